"""A member writes from the web of a real node, and Fedify (alice) gets it, verified: the
blog post she follows, the reply to her note, the like and the boost and their Undo."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify

PASSWORD = "a long walk to the bookfair"


class Browser:
    """A member's browser: cookies kept, forms sent from the node's own origin."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, data: dict[str, str] | None = None
             ) -> tuple[int, str, str]:
        """(status, Location, body) of one request, redirects not followed."""
        parts = urlsplit(self.node.base)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=15)
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data).encode()
            headers |= {"Content-Type": "application/x-www-form-urlencoded",
                        "Origin": self.node.base}
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            for cookie in raw.msg.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value and "Max-Age=0" not in cookie:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return raw.status, raw.getheader("Location") or "", raw.read().decode()
        finally:
            conn.close()

    def token(self, path: str) -> str:
        status, _, page = self.send("GET", path)
        assert status == 200, page
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, f"no form on {path}"
        return match[1]

    def submit(self, path: str, data: dict[str, str], page: str = "/") -> tuple[int, str]:
        status, location, body = self.send("POST", path, data | {"csrf_token": self.token(page)})
        assert status == 303, body[:500]
        return status, location


@pytest.fixture(scope="module")
def ana(chapter_node: Node, fedify: Fedify, tmp_path_factory: pytest.TempPathFactory
        ) -> Browser:
    """ana, a member of dublin, logged in; alice follows her."""
    secret: Path = tmp_path_factory.mktemp("secret") / "password"
    secret.write_text(PASSWORD + "\n")
    chapter_node.run("account", "create", "ana", "--chapter", "dublin", "--name", "Ana Byrne",
                     "--password-file", str(secret))
    browser = Browser(chapter_node)
    browser.submit("/login", {"username": "ana", "password": PASSWORD, "next": "/"},
                   page="/login")
    fedify.post("/_control/follow", {"target": f"{chapter_node.base}/actors/ana"})
    wait_for(lambda: [a for a in fedify.received("Accept")
                      if a["actor"] == f"{chapter_node.base}/actors/ana"], what="ana's Accept")
    return browser


def arrived(fedify: Fedify, kind: str, object_id: str) -> dict[str, Any]:
    [activity] = wait_for(lambda: [a for a in fedify.received(kind)
                                   if a.get("objectId") == object_id],
                          what=f"Fedify to get a {kind} of {object_id}")
    assert activity["verifiedBy"]["method"] == "http-signature", activity
    return activity


def test_a_blog_post_written_on_the_web_reaches_a_follower(
    ana: Browser, chapter_node: Node, fedify: Fedify
) -> None:
    _, location = ana.submit("/@ana/write", {
        "title": "Why I joined", "summary": "", "body": "Because *we* organise."},
        page="/@ana/write")
    iri = f"{chapter_node.base}{location}"
    parsed = arrived(fedify, "Create", iri)["objectParsed"]
    assert parsed["type"] == "Article"
    assert parsed["name"] == "Why I joined"
    assert parsed["content"] == "<p>Because <em>we</em> organise.</p>"
    assert parsed["attributedTo"] == f"{chapter_node.base}/actors/ana"


def test_a_reply_like_and_boost_of_alices_note_reach_her(
    ana: Browser, chapter_node: Node, fedify: Fedify
) -> None:
    ana_iri = f"{chapter_node.base}/actors/ana"
    sent = fedify.post("/_control/note", {"to": ana_iri, "content": "<p>See you Saturday?</p>",
                                          "mention": True})
    note = sent["noteId"]
    wait_for(lambda: chapter_node.sql("SELECT 1 FROM remote_objects WHERE iri = ?", note),
             what="the node to store alice's note")

    ana.submit("/reply", {"object": note, "content": "Yes, with two boxes of books.",
                          "next": "/"})
    # Once: alice is addressed and follows ana, and both reach her server's shared inbox.
    [create] = wait_for(lambda: [c for c in fedify.received("Create")
                                 if (c.get("objectParsed") or {}).get("inReplyTo") == note],
                        what="alice to get the reply")
    assert create["verifiedBy"]["method"] == "http-signature"
    reply = create["objectParsed"]
    assert reply["attributedTo"] == ana_iri
    assert "two boxes of books" in reply["content"]
    assert fedify.alice in reply["to"]

    ana.submit("/like", {"object": note, "next": "/"})
    like = arrived(fedify, "Like", note)
    ana.submit("/boost", {"object": note, "next": "/"})
    arrived(fedify, "Announce", note)
    # Liking twice sends nothing new; taking the like back sends its Undo.
    ana.submit("/like", {"object": note, "next": "/"})
    ana.submit("/like", {"object": note, "undo": "1", "next": "/"})
    arrived(fedify, "Undo", like["id"])
    assert len([a for a in fedify.received("Like") if a.get("objectId") == note]) == 1
    assert len([c for c in fedify.received("Create")
                if (c.get("objectParsed") or {}).get("inReplyTo") == note]) == 1
