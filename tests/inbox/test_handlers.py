"""What each activity type does to a real node, sent signed by remote actors we control."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from storage.timestamps import at
from tests.inbox.conftest import Remote, activity, follow, post
from tests.nodes import Node, wait_for

AS2 = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("handlers")).federating()
    for slug, extra in (("dublin", ()), ("closed", ("--manual-approval",))):
        assert node.cli("chapter", "create", slug, "--name", slug.title(), "--level", "local",
                        *extra).returncode == 0
    node.start()
    yield node
    node.stop()


async def send(node: Node, remote: Remote, document: dict[str, Any], name: str = "alice",
               path: str = "/actors/dublin/inbox") -> None:
    status, text = await post(node, json.dumps(document).encode(), remote.key(name), path=path)
    assert status == 202, text


def followers(node: Node, handle: str) -> list[tuple[str, str]]:
    return node.sql("SELECT f.follower_iri, f.state FROM followers f JOIN actors a"
                    " ON a.id = f.actor_id WHERE a.handle = ? ORDER BY f.id", handle)


def note(remote: Remote, to: list[str], **extra: Any) -> dict[str, Any]:
    return {"id": f"{remote.base}/objects/{uuid.uuid4().hex}", "type": "Note",
            "attributedTo": remote.actor("alice"), "content": "<p>hi</p>",
            "to": to, **extra}


async def test_follow_then_undo(node: Node, remote: Remote) -> None:
    the_follow = follow(remote, node)
    await send(node, remote, the_follow)
    assert followers(node, "dublin")[-1] == (remote.actor("alice"), "accepted")
    accept = wait_for(lambda: node.sql(
        "SELECT a.document, d.inbox FROM activities a JOIN deliveries d ON d.activity_id = a.id"
        " WHERE a.type = 'Accept'"), what="an Accept queued")
    document, inbox = accept[-1]
    assert json.loads(document)["object"]["id"] == the_follow["id"]
    assert inbox == f"{remote.actor('alice')}/inbox"
    await send(node, remote, activity(remote, "Undo", {k: v for k, v in the_follow.items()
                                                       if k != "@context"}))
    assert remote.actor("alice") not in dict(followers(node, "dublin"))


async def test_manual_approval(node: Node, remote: Remote) -> None:
    actor = node.get("/actors/closed", accept=AS2).json()
    assert actor["manuallyApprovesFollowers"] is True
    await send(node, remote, follow(remote, node) | {"object": f"{node.base}/actors/closed"})
    assert followers(node, "closed") == [(remote.actor("alice"), "requested")]
    assert node.get("/actors/closed/followers", accept=AS2).json()["totalItems"] == 0
    listed = node.cli("followers", "list", "closed")
    assert "requested" in listed.stdout
    result = node.cli("followers", "approve", "closed", remote.actor("alice"))
    assert result.returncode == 0, result.stderr
    assert followers(node, "closed") == [(remote.actor("alice"), "accepted")]
    again = node.cli("followers", "approve", "closed", remote.actor("alice"))
    assert again.returncode == 2 and "has not asked" in again.stderr


async def test_a_note_addressed_to_a_chapter_is_stored_sanitised(
    node: Node, remote: Remote
) -> None:
    obj = note(remote, [f"{node.base}/actors/dublin"],
               content='<p onclick="x()">Hi <script>alert(1)</script><b>all</b></p>')
    await send(node, remote, activity(remote, "Create", obj))
    assert node.sql("SELECT content FROM remote_objects WHERE iri = ?", obj["id"]) == [
        ("<p>Hi <b>all</b></p>",)]
    updated = obj | {"content": "<p>edited</p>", "updated": "2026-11-27T10:00:00Z"}
    await send(node, remote, activity(remote, "Update", updated))
    assert node.sql("SELECT content FROM remote_objects WHERE iri = ?", obj["id"]) == [
        ("<p>edited</p>",)]
    await send(node, remote, activity(remote, "Delete", obj["id"]))
    assert node.sql("SELECT deleted_at IS NOT NULL, content FROM remote_objects WHERE iri = ?",
                    obj["id"]) == [(1, "")]
    # The id is never reused: a Create after the Delete changes nothing.
    await send(node, remote, activity(remote, "Create", obj))
    assert node.sql("SELECT deleted_at IS NOT NULL FROM remote_objects WHERE iri = ?",
                    obj["id"]) == [(1,)]


async def test_times_and_meeting_date_of_a_remote_object_are_kept(
    node: Node, remote: Remote
) -> None:
    obj = note(remote, [f"{node.base}/actors/dublin"], type="Article",
               published="2026-11-27T12:00:00+02:00", meetingDate="2026-11-26")
    await send(node, remote, activity(remote, "Create", obj))
    [(published, meeting_date)] = node.sql(
        "SELECT published, meeting_date FROM remote_objects WHERE iri = ?", obj["id"])
    assert at(published) == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert meeting_date == "2026-11-26"
    # An edit that drops the date (or gives one that is not text) leaves none behind.
    edited = obj | {"updated": "2026-11-27T11:00:00Z", "meetingDate": 20261126}
    await send(node, remote, activity(remote, "Update", edited))
    [(updated, meeting_date)] = node.sql(
        "SELECT updated, meeting_date FROM remote_objects WHERE iri = ?", obj["id"])
    assert at(updated) == datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert meeting_date is None


@pytest.mark.parametrize("published", [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0999-01-01T00:00:00Z",
    "yesterday",
])
async def test_an_object_with_a_time_we_cannot_keep_is_kept_without_it(
    node: Node, remote: Remote, published: str
) -> None:
    obj = note(remote, [f"{node.base}/actors/dublin"], published=published)
    await send(node, remote, activity(remote, "Create", obj))
    assert node.sql("SELECT content, published FROM remote_objects WHERE iri = ?",
                    obj["id"]) == [("<p>hi</p>", None)]
    assert node.get("/actors/dublin").status == 200


async def test_a_note_for_nobody_here_is_not_kept(node: Node, remote: Remote) -> None:
    # Public, to nobody of ours, by someone nobody here follows, through the shared inbox.
    obj = note(remote, [PUBLIC])
    await send(node, remote, activity(remote, "Create", obj), path="/inbox")
    assert node.sql("SELECT 1 FROM remote_objects WHERE iri = ?", obj["id"]) == []


async def test_someone_elses_object_is_fetched_from_its_origin(
    node: Node, remote: Remote
) -> None:
    # Mallory relays a note by alice; what counts is what alice's server says it is.
    real = note(remote, [f"{node.base}/actors/dublin"], content="<p>the real text</p>")
    remote.objects[real["id"].removeprefix(remote.base)] = real
    forged = real | {"content": "<p>forged</p>"}
    relayed = activity(remote, "Create", forged, name="alice")
    status, text = await post(node, json.dumps(relayed).encode(), remote.key("mallory"))
    assert status == 202, text
    assert node.sql("SELECT content FROM remote_objects WHERE iri = ?", real["id"]) == [
        ("<p>the real text</p>",)]


async def test_likes_and_announces_of_local_objects_are_counted(
    node: Node, remote: Remote
) -> None:
    result = node.cli("post", "note", "Join us", "--chapter", "dublin")
    note_id = result.stdout.split()[-1]
    like = activity(remote, "Like", note_id)
    await send(node, remote, like)
    await send(node, remote, activity(remote, "Announce", note_id, to=[PUBLIC]))
    await send(node, remote, activity(remote, "Like", note_id))  # a second like counts once
    counts = dict(node.sql("SELECT kind, count(*) FROM reactions GROUP BY kind"))
    assert counts == {"like": 1, "announce": 1}
    page = node.get(note_id.removeprefix(node.base), accept="text/html").text
    assert "1 like · 1 boost" in page
    await send(node, remote, activity(remote, "Undo", {k: v for k, v in like.items()
                                                       if k != "@context"}))
    assert dict(node.sql("SELECT kind, count(*) FROM reactions GROUP BY kind")) == {
        "announce": 1}


async def test_update_of_an_actor_refreshes_the_cache_and_delete_removes_it(
    node: Node, remote: Remote
) -> None:
    await send(node, remote, follow(remote, node))
    assert node.sql("SELECT name FROM remote_actors WHERE iri = ?", remote.actor("alice")) == [
        ("alice",)]
    remote.names["alice"] = "Alice Renamed"
    me = remote.actor("alice")
    document = {"id": me, "type": "Person", "preferredUsername": "alice",
                "name": "Alice Renamed", "inbox": f"{me}/inbox",
                "publicKey": {"id": f"{me}#main-key", "owner": me,
                              "publicKeyPem": node_key_pem(remote)}}
    await send(node, remote, activity(remote, "Update", document))
    assert node.sql("SELECT name FROM remote_actors WHERE iri = ?", me) == [("Alice Renamed",)]
    await send(node, remote, activity(remote, "Delete", me))
    assert node.sql("SELECT 1 FROM remote_actors WHERE iri = ?", me) == []
    assert remote.actor("alice") not in dict(followers(node, "dublin"))


def node_key_pem(remote: Remote) -> str:
    from tests.inbox.conftest import KEYS, public_pem

    return public_pem(KEYS["alice"])


async def test_block_removes_the_blocker_from_followers(node: Node, remote: Remote) -> None:
    await send(node, remote, follow(remote, node))
    assert remote.actor("alice") in dict(followers(node, "dublin"))
    await send(node, remote, activity(remote, "Block", f"{node.base}/actors/dublin"))
    assert remote.actor("alice") not in dict(followers(node, "dublin"))


async def test_following_the_node_actor_is_rejected(node: Node, remote: Remote) -> None:
    await send(node, remote, follow(remote, node) | {"object": f"{node.base}/actor"})
    rejects = node.sql("SELECT document FROM activities WHERE type = 'Reject'")
    assert rejects and json.loads(rejects[-1][0])["actor"] == f"{node.base}/actor"
