"""Logging in and out as a member sees it: cookies, throttling, CSRF and origin refusals,
log out everywhere, idle expiry, one-time links and changing a password."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from actors.accounts import create_account, issue_password_link
from actors.registry import add_member, create_chapter
from chapterhouse.app import create_app
from chapterhouse.config import Config, parse, render_initial
from chapterhouse.services import initialise
from storage.database import Database
from storage.timestamps import now
from web.state import DB

PASSWORD = "correct horse battery"
HTML = {"Accept": "text/html"}


@dataclass
class Site:
    client: TestClient[Any, Any]
    db: Database
    config: Config

    @property
    def origin(self) -> dict[str, str]:
        return {"Origin": self.config.base_url}

    async def sql(self, query: str, *params: object) -> list[Any]:
        async with self.db.transaction() as tx:
            return [tuple(row) for row in await tx.fetchall(query, params)]

    async def another_browser(self) -> TestClient[Any, Any]:
        browser: TestClient[Any, Any] = TestClient(self.client.server)
        await browser.start_server()
        return browser


async def make_site(tmp_path: Path, location: Path | str, aiohttp_client: Any,
                    scheme: str = "http") -> Site:
    raw = tomllib.loads(render_initial("node.test", scheme, "Test node"))
    raw["storage"]["url"] = str(location)
    config = parse(raw, tmp_path)
    await initialise(config)
    app = create_app(config, deliver=False)
    client = await aiohttp_client(app)
    db = app[DB]
    await create_chapter(db, config.hostname, "dublin", "IOPS Dublin", "local")
    await add_member(db, config.hostname, "ana", "dublin", "Ana Byrne")
    await create_account(db, "ana", PASSWORD)
    await add_member(db, config.hostname, "brian", "dublin", "Brian Ó Súilleabháin")
    return Site(client, db, config)


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


def token_in(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no form with a CSRF token"
    return match[1]


async def form_token(client: TestClient[Any, Any], path: str = "/login") -> str:
    response = await client.get(path, headers=HTML)
    assert response.status == 200, await response.text()
    return token_in(await response.text())


async def log_in(site: Site, username: str = "ana", password: str = PASSWORD,
                 client: TestClient[Any, Any] | None = None, next_path: str = "/",
                 address: str | None = None) -> ClientResponse:
    """Log in through the form; `address` is the client's, as a proxy on the node's
    machine reports it in X-Forwarded-For."""
    client = client or site.client
    token = await form_token(client)
    return await client.post("/login", data={
        "csrf_token": token, "username": username, "password": password, "next": next_path,
    }, headers={**site.origin, **HTML, **({"X-Forwarded-For": address} if address else {})},
        allow_redirects=False)


async def logged_in_as(client: TestClient[Any, Any]) -> str | None:
    page = await (await client.get("/", headers=HTML)).text()
    match = re.search(r'<a class="me" href="/@([^"]+)">', page)
    return match[1] if match else None


async def post(site: Site, path: str, data: dict[str, str],
               client: TestClient[Any, Any] | None = None,
               headers: dict[str, str] | None = None) -> ClientResponse:
    client = client or site.client
    return await client.post(path, data=data, allow_redirects=False,
                             headers=site.origin | HTML if headers is None else headers)


async def test_a_member_logs_in_sees_who_they_are_and_logs_out(site: Site) -> None:
    page = await (await site.client.get("/@dublin", headers=HTML)).text()
    assert 'href="/login?next=/%40dublin"' in page or 'href="/login?next=/@dublin"' in page

    response = await log_in(site, next_path="/@dublin")
    assert response.status == 303
    assert response.headers["Location"] == "/@dublin"
    page = await (await site.client.get("/", headers=HTML)).text()
    assert '<a class="me" href="/@ana">Ana Byrne</a>' in page
    assert '<a class="my-chapter" href="/@dublin">IOPS Dublin</a>' in page
    assert 'action="/logout"' in page and "Log in</a>" not in page

    response = await post(site, "/logout", {"csrf_token": token_in(page)})
    assert response.status == 303 and response.headers["Location"] == "/"
    assert await logged_in_as(site.client) is None
    assert await site.sql("SELECT * FROM sessions") == []


async def test_an_error_page_keeps_the_header_and_who_is_logged_in(site: Site) -> None:
    response = await site.client.get("/@nobody-here", headers=HTML)
    page = await response.text()
    assert response.status == 404
    assert '<a class="brand" href="/">Test node</a>' in page and 'href="/login' in page
    await log_in(site)
    response = await site.client.get("/objects/not-a-uuid", headers=HTML)
    page = await response.text()
    assert response.status == 404 and "<h1>404</h1>" in page
    assert '<a class="me" href="/@ana">Ana Byrne</a>' in page and 'action="/logout"' in page
    # Servers still get JSON.
    response = await site.client.get("/@nobody-here",
                                     headers={"Accept": "application/activity+json"})
    assert response.status == 404 and "error" in await response.json()


async def test_the_session_cookie_is_httponly_lax_and_names_no_account(site: Site) -> None:
    response = await log_in(site)
    cookie = response.cookies["chapterhouse_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # the node's scheme is http
    assert int(cookie["max-age"]) == 14 * 86400
    assert "ana" not in cookie.value
    # The database holds a hash of the token, never the token.
    ((stored,),) = await site.sql("SELECT token_hash FROM sessions")
    assert stored != cookie.value and len(stored) == 64


async def test_on_https_the_session_cookie_is_secure(
    tmp_path: Path, store_location: Path | str, aiohttp_client: Any
) -> None:
    site = await make_site(tmp_path, store_location, aiohttp_client, scheme="https")
    form = await site.client.get("/login", headers=HTML)
    presession = form.cookies["chapterhouse_csrf"]
    assert presession["secure"] is True
    # The test speaks plain HTTP (TLS ends at a proxy in front of the node), so the
    # client's jar keeps Secure cookies to itself: the form's cookie is sent by hand.
    response = await site.client.post("/login", data={
        "csrf_token": token_in(await form.text()), "username": "ana", "password": PASSWORD,
    }, headers={**site.origin, "Cookie": f"chapterhouse_csrf={presession.value}"},
        allow_redirects=False)
    assert response.status == 303
    assert response.cookies["chapterhouse_session"]["secure"] is True


async def test_a_wrong_password_and_an_unknown_user_look_the_same(site: Site) -> None:
    wrong = await log_in(site, "ana", "not the password")
    unknown = await log_in(site, "nobody", "not the password")
    no_account = await log_in(site, "brian", "not the password")  # a member, no account
    pages = []
    for response, username in ((wrong, "ana"), (unknown, "nobody"), (no_account, "brian")):
        assert response.status == 401
        assert "chapterhouse_session" not in response.cookies
        pages.append((await response.text()).replace(f'value="{username}"', 'value="?"'))
    assert pages[0] == pages[1] == pages[2]
    assert "Wrong username or password." in pages[0]


async def test_failed_logins_are_throttled_per_account_and_it_lifts(site: Site) -> None:
    for n in range(5):
        response = await log_in(site, "ana", "guess", address=f"192.0.2.{n}")
        assert response.status == 401
    # The right password, from yet another address: refused while the account is throttled.
    response = await log_in(site, address="192.0.2.99")
    assert response.status == 429
    assert "Too many failed attempts to log in" in await response.text()
    assert int(response.headers["Retry-After"]) > 0
    assert await site.sql("SELECT * FROM sessions") == []
    # An unknown username is throttled the same way: throttling says nothing either.
    for _ in range(5):
        await log_in(site, "nobody", "guess", address="203.0.113.5")
    assert (await log_in(site, "nobody", "guess",
                         address="203.0.113.6")).status == 429

    await site.sql("UPDATE failed_logins SET attempted_at = ?", now() - timedelta(minutes=16))
    response = await log_in(site, address="192.0.2.99")
    assert response.status == 303


async def test_failed_logins_are_throttled_per_address(site: Site) -> None:
    attacker = "198.51.100.7"
    for n in range(20):
        assert (await log_in(site, f"user{n}", "guess", address=attacker)).status == 401
    assert (await log_in(site, address=attacker)).status == 429
    # Someone else logs in meanwhile.
    assert (await log_in(site, address="198.51.100.8")).status == 303


async def test_only_a_local_path_is_where_a_login_leads(site: Site) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example",
                   "javascript:alert(1)"):
        response = await log_in(site, next_path=target)
        assert response.status == 303
        assert response.headers["Location"] == "/", target


async def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    site: Site,
) -> None:
    # The login form needs the token of the pre-session cookie.
    response = await post(site, "/login", {"username": "ana", "password": PASSWORD})
    assert response.status == 403
    assert await site.sql("SELECT * FROM sessions") == []

    await log_in(site)
    hashes = await site.sql("SELECT password_hash FROM accounts")
    change = {"current": PASSWORD, "password": "a new password", "confirm": "a new password"}
    for token in (None, "", "wrong-token-" + "x" * 30):
        data = dict(change) if token is None else {**change, "csrf_token": token}
        response = await post(site, "/account/password", data)
        assert response.status == 403
        assert "security token" in await response.text()
        response = await post(site, "/logout", {} if token is None else {"csrf_token": token})
        assert response.status == 403
    assert await site.sql("SELECT password_hash FROM accounts") == hashes
    assert await logged_in_as(site.client) == "ana"


async def test_a_post_from_another_origin_is_refused(site: Site) -> None:
    await log_in(site)
    token = await form_token(site.client, "/account/password")
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Referer": "https://evil.example/page"}, {}):
        response = await post(site, "/logout", {"csrf_token": token}, headers=headers)
        assert response.status == 403, headers
        assert await logged_in_as(site.client) == "ana"
    # A browser that sends no Origin sends a Referer of this site: that is enough.
    response = await post(site, "/logout", {"csrf_token": token},
                          headers={"Referer": f"{site.config.base_url}/account/password"})
    assert response.status == 303
    assert await logged_in_as(site.client) is None


async def test_peers_post_to_inboxes_without_origin_or_token(site: Site) -> None:
    response = await site.client.post("/inbox", data=b"{}",
                                      headers={"Content-Type": "application/activity+json"})
    assert response.status != 403


async def test_log_out_everywhere_ends_every_other_session(site: Site) -> None:
    laptop = await site.another_browser()
    try:
        assert (await log_in(site, client=laptop)).status == 303
        assert (await log_in(site)).status == 303
        assert await logged_in_as(laptop) == "ana"
        token = await form_token(site.client, "/account/password")
        response = await post(site, "/logout/everywhere", {"csrf_token": token})
        assert response.status == 200
        assert "Every session of your account has ended" in await response.text()
        assert await logged_in_as(laptop) is None
        assert await logged_in_as(site.client) is None
        assert await site.sql("SELECT * FROM sessions") == []
    finally:
        await laptop.close()


async def test_a_session_idle_too_long_is_logged_out(site: Site) -> None:
    await log_in(site)
    await site.sql("UPDATE sessions SET last_seen_at = ?", now() - timedelta(days=15))
    response = await site.client.get("/", headers=HTML)
    assert "Log in</a>" in await response.text()
    assert response.cookies["chapterhouse_session"].value == ""  # the browser forgets it
    assert await site.sql("SELECT * FROM sessions") == []


async def test_last_seen_is_written_at_most_once_a_minute(site: Site) -> None:
    await log_in(site)
    ((first,),) = await site.sql("SELECT last_seen_at FROM sessions")
    for _ in range(3):
        await site.client.get("/", headers=HTML)
    assert await site.sql("SELECT last_seen_at FROM sessions") == [(first,)]
    earlier = now() - timedelta(minutes=2)
    await site.sql("UPDATE sessions SET last_seen_at = ?", earlier)
    await site.client.get("/", headers=HTML)
    ((seen,),) = await site.sql("SELECT last_seen_at FROM sessions")
    assert seen != first and seen != earlier


async def test_a_one_time_link_sets_the_password_once(site: Site) -> None:
    await create_account(site.db, "brian", None)
    ((brian,),) = await site.sql("SELECT id FROM actors WHERE handle = 'brian'")
    link = await issue_password_link(site.db, site.config.base_url, brian)
    path = link.removeprefix(site.config.base_url)
    assert path.startswith("/password/set?token=")
    assert (await log_in(site, "brian", "anything at all")).status == 401

    response = await site.client.get(path, headers=HTML)
    assert response.status == 200
    page = await response.text()
    assert "Brian" in page and '<label for="password">' in page
    token = path.split("token=")[1]
    data = {"csrf_token": token_in(page), "token": token}
    response = await post(site, "/password/set", {**data, "password": "short",
                                                  "confirm": "short"})
    assert response.status == 400
    assert "at least 8 characters" in await response.text()
    response = await post(site, "/password/set", {**data, "password": "brian's password",
                                                  "confirm": "brian's password"})
    assert response.status == 303 and response.headers["Location"] == "/@brian"
    assert await logged_in_as(site.client) == "brian"

    response = await site.client.get(path, headers=HTML)
    assert response.status == 404
    assert "This link cannot be used" in await response.text()
    again = await post(site, "/password/set", {
        "csrf_token": await form_token(site.client, "/account/password"), "token": token,
        "password": "someone else's", "confirm": "someone else's"})
    assert again.status == 404
    assert (await log_in(site, "brian", "brian's password")).status == 303


async def test_a_new_login_in_a_browser_ends_the_session_it_had(site: Site) -> None:
    await log_in(site)  # ana
    sessions = "SELECT a.handle FROM sessions s JOIN actors a ON a.id = s.account_id"
    assert await site.sql(sessions) == [("ana",)]
    await create_account(site.db, "brian", None)
    ((brian,),) = await site.sql("SELECT id FROM actors WHERE handle = 'brian'")
    path = (await issue_password_link(site.db, site.config.base_url, brian)).removeprefix(
        site.config.base_url)
    page = await (await site.client.get(path, headers=HTML)).text()
    response = await post(site, "/password/set", {
        "csrf_token": token_in(page), "token": path.split("token=")[1],
        "password": "brian's password", "confirm": "brian's password"})
    assert response.status == 303
    assert await logged_in_as(site.client) == "brian"
    # ana's session ended with it: her old cookie, had anyone kept it, opens nothing.
    assert await site.sql(sessions) == [("brian",)]
    assert (await log_in(site, "ana")).status == 303
    assert await site.sql(sessions) == [("ana",)]


async def test_an_expired_link_cannot_be_used(site: Site) -> None:
    await create_account(site.db, "brian", None)
    ((brian,),) = await site.sql("SELECT id FROM actors WHERE handle = 'brian'")
    link = await issue_password_link(site.db, site.config.base_url, brian)
    await site.sql("UPDATE password_links SET expires_at = ?", now() - timedelta(seconds=1))
    response = await site.client.get(link.removeprefix(site.config.base_url), headers=HTML)
    assert response.status == 404
    assert (await site.client.get("/password/set?token=made-up", headers=HTML)).status == 404


async def test_changing_the_password_needs_the_current_one(site: Site) -> None:
    phone = await site.another_browser()
    try:
        await log_in(site, client=phone)
        await log_in(site)
        token = await form_token(site.client, "/account/password")
        response = await post(site, "/account/password", {
            "csrf_token": token, "current": "not it", "password": "a new password",
            "confirm": "a new password"})
        assert response.status == 400
        assert "That is not your current password." in await response.text()
        assert await logged_in_as(phone) == "ana"

        response = await post(site, "/account/password", {
            "csrf_token": token, "current": PASSWORD, "password": "a new password",
            "confirm": "a new password"})
        assert response.status == 200
        assert "Your password is changed" in await response.text()
        assert await logged_in_as(site.client) == "ana"  # still logged in here
        assert await logged_in_as(phone) is None  # and nowhere else
        assert (await log_in(site, password=PASSWORD, client=phone)).status == 401
        assert (await log_in(site, password="a new password", client=phone)).status == 303
    finally:
        await phone.close()


async def test_a_visitor_is_sent_to_log_in(site: Site) -> None:
    response = await site.client.get("/account/password", headers=HTML,
                                     allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/account/password"
    page = await (await site.client.get("/login", headers=HTML)).text()
    assert '<label for="username">' in page and '<label for="password">' in page
    assert "<script" not in page and "style=" not in page


async def test_logging_in_clears_away_sessions_nobody_came_back_to(site: Site) -> None:
    await create_account(site.db, "brian", PASSWORD)
    await log_in(site, "brian")
    await site.sql("UPDATE sessions SET last_seen_at = ?", now() - timedelta(days=30))
    other = await site.another_browser()
    try:
        await log_in(site, "ana", client=other)
        assert [row[0] for row in await site.sql(
            "SELECT m.handle FROM sessions s JOIN actors m ON m.id = s.account_id")] == ["ana"]
    finally:
        await other.close()
