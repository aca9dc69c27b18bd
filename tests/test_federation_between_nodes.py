"""Two Chapterhouse nodes as separate processes on 127.0.0.1, talking signed ActivityPub."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.nodes import Node, wait_for

AS2 = "application/activity+json"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """Node A hosts the chapter dublin; node B hosts bob, a member of cork."""
    root = tmp_path_factory.mktemp("pair")
    a, b = Node.init(root, "a").federating(), Node.init(root, "b").federating()
    assert a.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                 "--level", "local").returncode == 0
    assert b.cli("chapter", "create", "cork", "--name", "IOPS Cork",
                 "--level", "local").returncode == 0
    assert b.cli("member", "add", "bob", "--chapter", "cork").returncode == 0
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def followers(node: Node, handle: str) -> int:
    return node.get(f"/actors/{handle}/followers", accept=AS2).json()["totalItems"]


def test_follow_post_delete_unfollow(pair: tuple[Node, Node]) -> None:
    a, b = pair
    dublin = f"{a.base}/actors/dublin"
    bob = f"{b.base}/actors/bob"

    # Given bob follows dublin
    result = b.cli("follow", dublin, "--as", "bob")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: followers(a, "dublin") == 1, what="A to accept bob's follow")
    assert a.get("/actors/dublin/followers?page=1", accept=AS2).json()["orderedItems"] == [bob]
    wait_for(lambda: b.sql("SELECT state FROM following") == [("accepted",)],
             what="B to receive the Accept")
    assert b.get("/actors/bob/following", accept=AS2).json()["totalItems"] == 1

    # When dublin posts a note, it reaches bob's node, signed and verified
    result = a.cli("post", "note", "Bookfair on Saturday <3", "--chapter", "dublin")
    assert result.returncode == 0, result.stderr
    note_id = result.stdout.split()[-1]
    rows = wait_for(lambda: b.sql("SELECT iri, attributed_to, content FROM remote_objects"),
                    what="the note at B")
    assert rows == [(note_id, dublin, "<p>Bookfair on Saturday &lt;3</p>")]
    outbox = a.get("/actors/dublin/outbox?page=1", accept=AS2).json()
    assert outbox["orderedItems"][0]["object"]["id"] == note_id
    note = a.get(note_id.removeprefix(a.base), accept=AS2).json()
    assert note["type"] == "Note" and note["attributedTo"] == dublin

    # When dublin deletes it, B keeps only a tombstone and A answers 410
    assert a.cli("delete", note_id).returncode == 0
    wait_for(lambda: b.sql("SELECT deleted_at IS NOT NULL FROM remote_objects") == [(1,)],
             what="the Delete at B")
    gone = a.get(note_id.removeprefix(a.base), accept=AS2)
    assert gone.status == 410 and gone.json()["type"] == "Tombstone"

    # When bob unfollows, dublin has no followers
    assert b.cli("unfollow", dublin, "--as", "bob").returncode == 0
    wait_for(lambda: followers(a, "dublin") == 0, what="A to drop bob")


def test_every_delivery_is_signed_and_recorded_once(pair: tuple[Node, Node]) -> None:
    a, b = pair
    activities = [json.loads(d) for (d,) in b.sql("SELECT document FROM inbox_activities")]
    ids = [x["id"] for x in activities]
    assert len(ids) == len(set(ids))
    assert {"Accept", "Create", "Delete"} <= {x["type"] for x in activities}
    delivered = a.sql("SELECT state, count(*) FROM deliveries GROUP BY state")
    assert dict(delivered).get("dead") is None


def test_deliveries_command_shows_the_queue(pair: tuple[Node, Node]) -> None:
    a, b = pair
    result = a.cli("deliveries")
    assert result.returncode == 0, result.stderr
    assert b.domain in result.stdout and "DELIVERED" in result.stdout
