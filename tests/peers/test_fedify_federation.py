"""Fedify as a real peer server: it follows a chapter, gets the Accept and a Note, each
signed by us and verified by Fedify, and sends a Note that our inbox verifies and stores."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.nodes import Node, free_port, request, wait_for

PEER = Path(__file__).resolve().parent / "fedify"
AS2 = "application/activity+json"


class Fedify:
    def __init__(self, port: int, process: subprocess.Popen[str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.process = process
        self.alice = f"{self.base}/users/alice"

    def get(self, path: str) -> Any:
        response = request(f"{self.base}{path}")
        assert response.status == 200, response.text
        return response.json()

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        response = request(f"{self.base}{path}", method="POST",
                           headers={"Content-Type": "application/json"},
                           body=json.dumps(payload).encode())
        assert response.status == 200, response.text
        return response.json()

    def received(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.get("/_control/received") if a["type"] == kind]


@pytest.fixture(scope="module")
def fedify() -> Iterator[Fedify]:
    node_bin = shutil.which("node")
    assert node_bin, "Node.js is required for the Fedify peer"
    assert (PEER / "node_modules" / "@fedify" / "fedify").is_dir(), (
        "run `npm ci --prefix tests/peers/fedify` (`make test` does this)")
    port = free_port()
    process = subprocess.Popen([node_bin, str(PEER / "server.mjs"), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY"), line
    yield Fedify(port, process)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def chapter_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("fedify-peer")).federating()
    assert node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                    "--level", "local").returncode == 0
    node.start()
    yield node
    node.stop()


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
