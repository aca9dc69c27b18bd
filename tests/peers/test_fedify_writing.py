"""A member writes from the web of a real node, and Fedify (alice) gets it, verified: the
blog post she follows, the reply to her note, the like and the boost and their Undo."""

from __future__ import annotations

from typing import Any

import pytest

from tests.member_browser import Browser, member
from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify

PASSWORD = "a long walk to the bookfair"


def post(browser: Browser, path: str, fields: dict[str, str], page: str = "/") -> str:
    """Send a form of `page`; where its 303 leads."""
    return browser.submit(path, list(fields.items()), page)


@pytest.fixture(scope="module")
def ana(chapter_node: Node, fedify: Fedify, tmp_path_factory: pytest.TempPathFactory
        ) -> Browser:
    """ana, a member of dublin, logged in; alice follows her."""
    browser = member(chapter_node, tmp_path_factory.mktemp("secret"), "ana", "dublin",
                     "Ana Byrne", PASSWORD)
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
    location = post(ana, "/@ana/write", {
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

    post(ana, "/reply", {"object": note, "content": "Yes, with two boxes of books.",
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

    post(ana, "/like", {"object": note, "next": "/"})
    like = arrived(fedify, "Like", note)
    post(ana, "/boost", {"object": note, "next": "/"})
    arrived(fedify, "Announce", note)
    # Liking twice sends nothing new; taking the like back sends its Undo.
    post(ana, "/like", {"object": note, "next": "/"})
    post(ana, "/like", {"object": note, "undo": "1", "next": "/"})
    arrived(fedify, "Undo", like["id"])
    assert len([a for a in fedify.received("Like") if a.get("objectId") == note]) == 1
    assert len([c for c in fedify.received("Create")
                if (c.get("objectParsed") or {}).get("inReplyTo") == note]) == 1
