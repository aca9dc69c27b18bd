"""What a browser is told a response may do: every response, pages, errors, files and
federation documents alike, and templates that the policy does not break."""

from __future__ import annotations

from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from chapterhouse.app import create_app
from chapterhouse.config import parse
from chapterhouse.harness import Response, request
from chapterhouse.services import initialise
from tests.outbox.conftest import raw_config
from tests.web.conftest import AS2, BROWSER, Site

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
EVERY_RESPONSE = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def assert_protected(response: Response) -> None:
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, (name, response.status, response.headers)


def pages(site: Site) -> dict[str, str]:
    """Every kind of page a visitor reaches, by what it is."""
    return {
        "home": "/",
        "chapter page": "/@dublin",
        "chapter page by its actor URL": "/actors/dublin",
        "member page": "/@ana",
        "members list": "/@dublin/members",
        "news item": site.path("news"),
        "event": site.path("event"),
        "poll": site.path("poll"),
        "note": site.path("note"),
    }


def test_every_page_carries_the_headers(site: Site) -> None:
    for what, path in pages(site).items():
        response = site.node.get(path, accept=BROWSER)
        assert response.status == 200, what
        assert response.content_type.startswith("text/html"), what
        assert_protected(response)
        # Rendered, with Markdown bodies and fediverse replies in it (one of each holds a
        # <script>), a page still has nothing the policy would block.
        assert blocked_by_the_policy(response.text) == [], what


@pytest.mark.parametrize("what,method,path,status", [
    ("no such page", "GET", "/nowhere", 404),
    ("no such chapter", "GET", "/@nobody", 404),
    ("a broken cursor", "GET", "/@dublin/members?cursor=garbage", 400),
    ("a method a page does not take", "PUT", "/", 405),
    ("a method an actor does not take", "DELETE", "/@dublin", 405),
])
def test_error_pages_carry_the_headers(
    site: Site, what: str, method: str, path: str, status: int
) -> None:
    response = request(f"{site.node.base}{path}", method=method, headers={"Accept": BROWSER})
    assert response.status == status, what
    assert response.content_type.startswith("text/html"), what
    assert_protected(response)
    assert blocked_by_the_policy(response.text) == [], what


def test_an_error_in_json_carries_them_too(site: Site) -> None:
    response = site.node.get("/actors/nobody", accept=AS2)
    assert response.status == 404
    assert response.json()["error"]
    assert_protected(response)


def test_a_redirect_carries_the_headers(site: Site) -> None:
    response = site.node.get("/actor", accept=BROWSER)
    assert response.status == 302
    assert response.headers["location"]
    assert_protected(response)


def test_files_feeds_and_federation_documents_carry_them(site: Site) -> None:
    node = site.node
    resource = quote(f"acct:dublin@{node.domain}", safe="")
    documents = {
        "stylesheet": ("/static/style.css", "text/css", "text/css"),
        "chapter as AS2": ("/actors/dublin", AS2, "application/activity+json"),
        "item as AS2": (site.path("news"), AS2, "application/activity+json"),
        "outbox": ("/actors/dublin/outbox", AS2, "application/activity+json"),
        "WebFinger": (f"/.well-known/webfinger?resource={resource}", "application/jrd+json",
                      "application/jrd+json"),
        "NodeInfo links": ("/.well-known/nodeinfo", "application/json", "application/json"),
        "NodeInfo": ("/nodeinfo/2.1", "application/json", "application/json"),
        "host-meta": ("/.well-known/host-meta", "application/xrd+xml", "application/xrd+xml"),
        "Atom feed": ("/actors/dublin/feed.atom", "application/atom+xml",
                      "application/atom+xml"),
        "calendar": ("/actors/dublin/events.ics", "text/calendar", "text/calendar"),
    }
    for what, (path, accept, media_type) in documents.items():
        response = node.get(path, accept=accept)
        assert response.status == 200, what
        assert response.content_type.startswith(media_type), (what, response.content_type)
        assert_protected(response)
    # A peer still reads the document as before: the headers are only headers.
    assert node.get("/actors/dublin", accept=AS2).json()["preferredUsername"] == "dublin"


@pytest.fixture
async def app_with_failures(tmp_path: Path, engine: str) -> web.Application:
    """The node's app with a handler that fails and, outermost, a middleware that refuses
    (as a session or CSRF check will): responses made where no page handler runs."""
    config = parse(raw_config("127.0.0.1:1"), tmp_path)
    await initialise(config)
    app = create_app(config, deliver=False)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    @web.middleware
    async def refusing(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/refused":
            raise web.HTTPForbidden(text="refused before the error pages")
        if request.path == "/answered":
            return web.Response(text="<p>answered before the error pages</p>",
                                content_type="text/html")
        return await handler(request)

    app.middlewares.insert(0, refusing)
    app.router.add_get("/broken", broken)
    return app


async def test_a_500_and_responses_from_outer_middlewares_carry_them(
    app_with_failures: web.Application, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(app_with_failures)
    for path, status in (("/broken", 500), ("/refused", 403), ("/answered", 200)):
        response = await client.get(path, headers={"Accept": BROWSER})
        assert response.status == status, path
        body = await response.text()
        assert "a bug" not in body and "Traceback" not in body
        for name, value in EVERY_RESPONSE.items():
            assert response.headers.get(name) == value, (path, name)


async def test_a_handler_that_sets_its_own_policy_keeps_it(
    tmp_path: Path, engine: str, aiohttp_client: Any
) -> None:
    # An uploaded image, say, gets a stricter policy of its own; it must not be widened.
    config = parse(raw_config("127.0.0.1:1"), tmp_path)
    await initialise(config)
    app = create_app(config, deliver=False)

    async def upload(request: web.Request) -> web.Response:
        return web.Response(body=b"GIF89a", content_type="image/gif",
                            headers={"Content-Security-Policy": "default-src 'none'; sandbox"})

    app.router.add_get("/upload", upload)
    client = await aiohttp_client(app)
    response = await client.get("/upload")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


class _PolicyCheck(HTMLParser):
    """What in a page the policy would block: inline script and style, event handler
    attributes, `javascript:` URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocked: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style":
            self.blocked.append("<style> element")
        if tag == "script":
            self._in_script = True
        for name, value in attrs:
            if name.startswith("on"):
                self.blocked.append(f"{name}= on <{tag}>")
            if name == "style":
                self.blocked.append(f"style= on <{tag}>")
            if value and "".join(value.split()).lower().startswith("javascript:"):
                self.blocked.append(f"javascript: URL in {name}= on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.blocked.append("inline <script>")


def blocked_by_the_policy(html: str) -> list[str]:
    check = _PolicyCheck()
    check.feed(html)
    check.close()
    return check.blocked


def test_the_check_finds_what_the_policy_blocks() -> None:
    page = ("<p style='color:red' onclick=\"go()\">x</p><style>p{}</style>"
            "<script>alert(1)</script><a href=' JavaScript:alert(1)'>y</a>"
            "<script src=\"/static/app.js\"></script><a href=\"/ok\">z</a>")
    assert blocked_by_the_policy(page) == [
        "style= on <p>", "onclick= on <p>", "<style> element", "inline <script>",
        "javascript: URL in href= on <a>"]


def test_templates_have_nothing_the_policy_blocks() -> None:
    templates = sorted(
        Path(str(resources.files("web").joinpath("templates"))).glob("*.html"))
    assert len(templates) >= 9
    for template in templates:
        assert blocked_by_the_policy(template.read_text("utf-8")) == [], template.name
