"""Fedify as a real peer server: it follows a chapter, gets the Accept and a Note, each
signed by us and verified by Fedify, and sends a Note that our inbox verifies and stores."""

from __future__ import annotations

from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify

AS2 = "application/activity+json"


def test_fedify_follows_a_chapter_and_receives_a_verified_accept(
    fedify: Fedify, chapter_node: Node
) -> None:
    dublin = f"{chapter_node.base}/actors/dublin"
    follow = fedify.post("/_control/follow", {"target": dublin})
    assert follow["ok"], follow
    [accept] = wait_for(lambda: fedify.received("Accept"), what="Fedify to get the Accept")
    assert accept["actor"] == dublin
    assert accept["verifiedBy"], accept  # Fedify checked our signature before recording it
    following = wait_for(lambda: [f for f in fedify.get("/_control/following")
                                  if f["state"] == "accepted"], what="Fedify's follow state")
    assert following[0]["target"] == dublin
    page = chapter_node.get("/actors/dublin/followers?page=1", accept=AS2).json()
    assert page["orderedItems"] == [fedify.alice]


def test_a_published_note_reaches_fedify_signed(fedify: Fedify, chapter_node: Node) -> None:
    result = chapter_node.cli("post", "note", "Minutes of the August meeting are up.",
                              "--chapter", "dublin")
    assert result.returncode == 0, result.stderr
    note_id = result.stdout.split()[-1]
    creates = wait_for(lambda: [c for c in fedify.received("Create")
                                if c["objectId"] == note_id], what="Fedify to get the note")
    assert creates[0]["actor"] == f"{chapter_node.base}/actors/dublin"
    assert creates[0]["objectType"] == "Note"
    verified = creates[0]["verifiedBy"]
    assert verified["method"] == "http-signature", verified


def test_fedify_sends_a_note_that_our_inbox_verifies_and_stores(
    fedify: Fedify, chapter_node: Node
) -> None:
    dublin = f"{chapter_node.base}/actors/dublin"
    sent = fedify.post("/_control/note", {"to": dublin,
                                          "content": "<p>Hello <script>x()</script>Dublin</p>"})
    assert sent["ok"], sent
    rows = wait_for(lambda: chapter_node.sql(
        "SELECT attributed_to, content FROM remote_objects WHERE iri = ?", sent["noteId"]),
        what="the note in our store")
    assert rows == [(fedify.alice, "<p>Hello Dublin</p>")]
    # Fedify signs with RFC 9421 first; we verify it, so it never had to knock twice.
    posts = [r for r in fedify.get("/_control/outgoing")
             if r["method"] == "POST" and r["url"].startswith(chapter_node.base)]
    assert posts and all(r["status"] == 202 for r in posts), posts
    assert {r["signature"]["scheme"] for r in posts} == {"rfc9421"}, posts
