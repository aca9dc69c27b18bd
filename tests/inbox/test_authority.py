"""Who may say what about whom: one test per row of FEDERATION.md's authority table, each
sent to a real node by someone who may not, with what the node then holds.

`remote` and `elsewhere` are two servers on two origins; alice and mallory live on both.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.inbox.conftest import Remote, activity, follow, post
from tests.nodes import Node

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AS2 = "application/activity+json"
LATER = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
# Every type whose actor must be the signer: nobody relays these for somebody else.
SIGNER_IS_ACTOR = ["Follow", "Undo", "Accept", "Reject", "Like", "Announce", "Delete",
                   "Join", "Leave", "Block", "Invite", "Add"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("authority")).federating()
    node.chapter("dublin", "Dublin")
    node.start()
    yield node
    node.stop()


async def send(node: Node, signer: Remote, document: dict[str, Any], name: str = "alice",
               path: str = "/inbox") -> tuple[int, str]:
    return await post(node, json.dumps(document).encode(), signer.key(name), path=path)


def dublin(node: Node) -> str:
    return f"{node.base}/actors/dublin"


def news(node: Node) -> str:
    result = node.cli("post", "news", "--chapter", "dublin", "--title", "Bookfair",
                      stdin="Come along.")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def poll(node: Node) -> str:
    result = node.cli("post", "poll", "--chapter", "dublin", "--question", "Which day?",
                      "--closes", LATER, "--option", "Mon", "--option", "Tue")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def reply(server: Remote, author: str, in_reply_to: str, text: str) -> dict[str, Any]:
    return {"id": f"{server.base}/objects/{uuid.uuid4().hex}", "type": "Note",
            "attributedTo": author, "inReplyTo": in_reply_to, "content": f"<p>{text}</p>",
            "to": [PUBLIC]}


def vote(server: Remote, author: str, question: str, choice: str) -> dict[str, Any]:
    return {"id": f"{server.base}/objects/{uuid.uuid4().hex}", "type": "Note",
            "name": choice, "attributedTo": author, "inReplyTo": question,
            "to": question.rsplit("/objects/", 1)[0] + "/actors/dublin"}


def serve(server: Remote, document: dict[str, Any]) -> dict[str, Any]:
    server.objects[document["id"].removeprefix(server.base)] = document
    return document


def votes(node: Node, question: str) -> list[tuple[str, str]]:
    return node.sql("SELECT v.voter, v.choice FROM poll_votes v JOIN items i"
                    " ON i.id = v.item_id WHERE i.object_iri = ? ORDER BY v.id", question)


def stored(node: Node, iri: str) -> list[tuple[str, str]]:
    return node.sql("SELECT attributed_to, content FROM remote_objects WHERE iri = ?", iri)


@pytest.mark.parametrize("kind", SIGNER_IS_ACTOR)
async def test_only_the_actor_signs_for_itself(
    node: Node, remote: Remote, kind: str
) -> None:
    obj = {"Follow": dublin(node), "Join": dublin(node)}.get(kind, f"{node.base}/objects/x")
    forged = activity(remote, kind, obj, name="alice")
    status, text = await send(node, remote, forged, name="mallory")
    assert status == 401 and "another actor" in text
    assert node.sql("SELECT count(*) FROM inbox_activities WHERE iri = ?", forged["id"]) == [
        (0,)]


async def test_a_relayed_reply_for_an_author_elsewhere_is_refused(
    node: Node, remote: Remote, elsewhere: Remote
) -> None:
    # Mallory's server serves a reply "by" alice of another server, and signs a Create
    # whose actor is alice: neither alice nor her server said anything.
    item = news(node)
    forged = serve(elsewhere, reply(elsewhere, remote.actor("alice"), item, "I resign."))
    create = activity(remote, "Create", forged["id"], name="alice")
    status, text = await send(node, elsewhere, create, name="mallory")
    assert status == 403, text
    assert stored(node, forged["id"]) == []
    page = node.get(item.removeprefix(node.base), accept="text/html").text
    assert "I resign." not in page


async def test_a_relayed_object_from_its_own_origin_is_kept(
    node: Node, remote: Remote
) -> None:
    # The same relay done honestly: alice's own server serves her reply.
    item = news(node)
    real = serve(remote, reply(remote, remote.actor("alice"), item, "See you there."))
    status, text = await send(node, remote, activity(remote, "Create", real["id"]),
                              name="mallory")
    assert status == 202, text
    assert stored(node, real["id"]) == [(remote.actor("alice"), "<p>See you there.</p>")]


async def test_a_relayed_object_proven_by_its_author_is_kept_without_a_fetch(
    node: Node, remote: Remote
) -> None:
    item = news(node)
    proven = remote.prove("alice", reply(remote, remote.actor("alice"), item, "Proven."))
    status, text = await send(node, remote, activity(remote, "Create", proven),
                              name="mallory")
    assert status == 202, text
    assert stored(node, proven["id"]) == [(remote.actor("alice"), "<p>Proven.</p>")]
    # Proven by someone else's key, it is not the author's word.
    other = remote.prove("mallory", reply(remote, remote.actor("alice"), item, "Not hers."))
    status, _ = await send(node, remote, activity(remote, "Create", other), name="mallory")
    assert status == 401
    assert stored(node, other["id"]) == []


async def test_a_relayed_vote_for_a_voter_elsewhere_is_not_counted(
    node: Node, remote: Remote, elsewhere: Remote
) -> None:
    question = poll(node)
    forged = serve(elsewhere, vote(elsewhere, remote.actor("alice"), question, "Mon"))
    status, text = await send(node, elsewhere,
                              activity(remote, "Create", forged["id"], name="alice"),
                              name="mallory")
    assert status == 403, text
    assert votes(node, question) == []
    # Alice's own vote, relayed from her server, counts once, for her.
    real = serve(remote, vote(remote, remote.actor("alice"), question, "Tue"))
    status, text = await send(node, remote, activity(remote, "Create", real["id"]),
                              name="mallory")
    assert status == 202, text
    assert votes(node, question) == [(remote.actor("alice"), "Tue")]


async def test_a_vote_counts_for_its_author_not_for_the_activity_s_actor(
    node: Node, remote: Remote
) -> None:
    # Signed by alice, but the note says mallory wrote it: it is nobody's vote.
    question = poll(node)
    note = vote(remote, remote.actor("mallory"), question, "Mon")
    status, text = await send(node, remote, activity(remote, "Create", note))
    assert status == 403 and "its author only" in text
    unattributed = {k: v for k, v in vote(remote, "", question, "Mon").items()
                    if k != "attributedTo"}
    status, _ = await send(node, remote, activity(remote, "Create", unattributed))
    assert status == 403
    assert votes(node, question) == []


async def test_an_update_of_someone_else_s_object_changes_nothing(
    node: Node, remote: Remote, elsewhere: Remote
) -> None:
    item = news(node)
    original = reply(remote, remote.actor("alice"), item, "Original.")
    assert (await send(node, remote, activity(remote, "Create", original)))[0] == 202
    # Mallory, on alice's server, claims the id for herself...
    claimed = original | {"attributedTo": remote.actor("mallory"), "content": "<p>Mine.</p>"}
    status, _ = await send(node, remote, activity(remote, "Update", claimed, name="mallory"),
                           name="mallory")
    assert status == 202
    # ...or edits it in alice's name, relayed from another server.
    forged = serve(elsewhere, original | {"id": f"{elsewhere.base}/objects/x",
                                          "content": "<p>Edited.</p>"})
    status, _ = await send(node, elsewhere, activity(remote, "Update", forged["id"]),
                           name="mallory")
    assert status == 403
    assert stored(node, original["id"]) == [(remote.actor("alice"), "<p>Original.</p>")]
    # Alice herself may.
    edited = original | {"content": "<p>Edited by alice.</p>",
                         "updated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert (await send(node, remote, activity(remote, "Update", edited)))[0] == 202
    assert stored(node, original["id"]) == [(remote.actor("alice"), "<p>Edited by alice.</p>")]


async def test_a_create_reusing_someone_else_s_id_is_refused(
    node: Node, remote: Remote
) -> None:
    item = news(node)
    original = reply(remote, remote.actor("alice"), item, "Alice's words.")
    assert (await send(node, remote, activity(remote, "Create", original)))[0] == 202
    claimed = original | {"attributedTo": remote.actor("mallory"), "content": "<p>No.</p>"}
    status, text = await send(node, remote, activity(remote, "Create", claimed,
                                                     name="mallory"), name="mallory")
    assert status == 403 and "someone else" in text
    assert stored(node, original["id"]) == [(remote.actor("alice"), "<p>Alice's words.</p>")]


async def test_an_update_of_an_actor_comes_from_that_actor(
    node: Node, remote: Remote
) -> None:
    await send(node, remote, follow(remote, node))
    alice = remote.actor("alice")
    document = {"id": alice, "type": "Person", "name": "Not Alice", "inbox": f"{alice}/inbox",
                "preferredUsername": "alice"}
    status, _ = await send(node, remote, activity(remote, "Update", document, name="mallory"),
                           name="mallory")
    assert status == 202
    assert node.sql("SELECT name FROM remote_actors WHERE iri = ?", alice) == [("alice",)]


async def test_a_delete_of_someone_else_s_object_or_actor_changes_nothing(
    node: Node, remote: Remote
) -> None:
    item = news(node)
    original = reply(remote, remote.actor("alice"), item, "Still here.")
    assert (await send(node, remote, activity(remote, "Create", original)))[0] == 202
    for target in (original["id"], remote.actor("alice")):
        status, _ = await send(node, remote, activity(remote, "Delete", target,
                                                      name="mallory"), name="mallory")
        assert status == 202
    assert stored(node, original["id"]) == [(remote.actor("alice"), "<p>Still here.</p>")]
    assert node.sql("SELECT count(*) FROM remote_actors WHERE iri = ?",
                    remote.actor("alice")) == [(1,)]


async def test_an_undo_of_someone_else_s_follow_changes_nothing(
    node: Node, remote: Remote
) -> None:
    alices = follow(remote, node)
    await send(node, remote, alices)
    inline = {k: v for k, v in alices.items() if k != "@context"}
    for undone in (inline, alices["id"]):
        status, _ = await send(node, remote, activity(remote, "Undo", undone, name="mallory"),
                               name="mallory")
        assert status == 202
    assert (remote.actor("alice"), "accepted") in node.sql(
        "SELECT follower_iri, state FROM followers")


async def test_an_accept_of_our_follow_comes_from_the_followed(
    node: Node, remote: Remote
) -> None:
    result = await asyncio.to_thread(node.cli, "follow", remote.actor("alice"),
                                     "--as", "dublin")
    assert result.returncode == 0, result.stderr
    (follow_iri,) = node.sql("SELECT follow_iri FROM following WHERE target_iri = ?",
                             remote.actor("alice"))[0]
    status, _ = await send(node, remote, activity(remote, "Accept", follow_iri,
                                                  name="mallory"), name="mallory")
    assert status == 202
    state = "SELECT state FROM following WHERE target_iri = ?"
    assert node.sql(state, remote.actor("alice")) == [("requested",)]
    assert (await send(node, remote, activity(remote, "Accept", follow_iri)))[0] == 202
    assert node.sql(state, remote.actor("alice")) == [("accepted",)]


async def test_an_announce_from_outside_the_hierarchy_is_not_kept(
    node: Node, remote: Remote
) -> None:
    note = remote.prove("alice", {
        "id": f"{remote.base}/objects/{uuid.uuid4().hex}", "type": "Note",
        "attributedTo": remote.actor("alice"), "content": "<p>Boosted.</p>", "to": [PUBLIC]})
    status, _ = await send(node, remote, activity(remote, "Announce", note, name="mallory",
                                                  to=[dublin(node)]), name="mallory")
    assert status == 202
    assert stored(node, note["id"]) == []


async def test_an_announced_object_is_bound_to_its_author_s_origin(
    node: Node, remote: Remote, elsewhere: Remote
) -> None:
    # Proven by alice's own key, but with an id on another server: refused whoever sends it.
    note = remote.prove("alice", {
        "id": f"{elsewhere.base}/objects/{uuid.uuid4().hex}", "type": "Note",
        "attributedTo": remote.actor("alice"), "content": "<p>Elsewhere.</p>"})
    status, text = await send(node, remote, activity(remote, "Announce", note))
    assert status == 403 and "origin" in text
    # Fetched from a server that names an author on another one: refused as well.
    served = serve(elsewhere, {"id": f"{elsewhere.base}/objects/{uuid.uuid4().hex}",
                               "type": "Note", "attributedTo": remote.actor("alice"),
                               "content": "<p>x</p>"})
    status, _ = await send(node, remote, activity(remote, "Announce", {"id": served["id"]}))
    assert status == 403
    assert stored(node, note["id"]) == stored(node, served["id"]) == []


async def test_a_relay_cannot_take_the_id_of_the_actor_s_next_activity(
    node: Node, remote: Remote
) -> None:
    item = news(node)
    first = serve(remote, reply(remote, remote.actor("alice"), item, "First."))
    relayed = activity(remote, "Create", first["id"])
    assert (await send(node, remote, relayed, name="mallory"))[0] == 202
    # Alice's own activity under that id is still hers to send, and is applied.
    second = reply(remote, remote.actor("alice"), item, "Second.")
    assert (await send(node, remote, relayed | {"object": second}))[0] == 202
    assert stored(node, second["id"]) == [(remote.actor("alice"), "<p>Second.</p>")]


async def test_a_relay_cannot_address_an_object_to_our_chapters(
    node: Node, remote: Remote
) -> None:
    # Alice's public note, addressed to nobody here; Mallory's wrapper adds Dublin.
    note = serve(remote, {"id": f"{remote.base}/objects/{uuid.uuid4().hex}", "type": "Note",
                          "attributedTo": remote.actor("alice"), "content": "<p>Hi</p>",
                          "to": [PUBLIC]})
    wrapped = activity(remote, "Create", note["id"], to=[dublin(node)])
    assert (await send(node, remote, wrapped, name="mallory"))[0] == 202
    assert stored(node, note["id"]) == []


async def test_nobody_relays_what_our_own_actors_say(node: Node, remote: Remote) -> None:
    item = news(node)
    forged = {"@context": "https://www.w3.org/ns/activitystreams",
              "id": f"{node.base}/activities/{uuid.uuid4().hex}", "type": "Create",
              "actor": dublin(node), "object": item}
    status, text = await send(node, remote, forged, name="mallory")
    assert status == 403, text
    assert node.sql("SELECT count(*) FROM remote_objects WHERE iri = ?", item) == [(0,)]


def decision(node: Node) -> str:
    result = node.cli("decide", "open", "--chapter", "dublin", "--question", "Which hall?",
                      "--option", "North", "--option", "South", "--closes", "+2h",
                      "--count", "members")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[0].strip()


async def test_only_a_chapter_s_parent_says_it_has_a_say_in_a_decision(
    node: Node, remote: Remote
) -> None:
    question = decision(node)
    invite = activity(remote, "Invite", question, target=dublin(node), to=[dublin(node)])
    status, text = await send(node, remote, invite)
    assert status == 403 and "parent" in text
    assert node.sql("SELECT count(*) FROM decision_invites") == [(0,)]


async def test_tallies_count_only_from_below_and_only_as_their_chapter_signed_them(
    node: Node, remote: Remote
) -> None:
    question = decision(node)
    tally = {"@context": ["https://www.w3.org/ns/activitystreams",
                          {"chapterhouse": "https://chapterhouse.network/ns#",
                           "Tally": "chapterhouse:Tally", "eligible": "chapterhouse:eligible",
                           "voters": "chapterhouse:voters", "final": "chapterhouse:final"}],
             "id": f"{remote.actor('alice')}/tallies/{uuid.uuid4().hex}", "type": "Tally",
             "attributedTo": remote.actor("alice"), "object": question,
             "published": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
             "final": False, "eligible": 900, "voters": 900,
             "ballots": [{"type": "Note", "name": "North",
                          "replies": {"type": "Collection", "totalItems": 900}}],
             "subchapters": []}
    before = node.sql("SELECT count(*) FROM tallies")
    # Proven by its chapter, but from a chapter that was below none of ours: refused
    # before any key is fetched, whatever the proofs say (a proof that fails from a
    # chapter in the scope is refused with 401: tests/decisions/).
    for tallies in ([remote.prove("alice", tally)], [remote.prove("mallory", tally)],
                    [remote.prove("alice", tally) | {"voters": 1}]):
        status, text = await send(node, remote, activity(remote, "Add", tallies,
                                                         target=question))
        assert status == 403 and "below none" in text
    unknown = activity(remote, "Add", [remote.prove("alice", tally)],
                       target=f"{node.base}/objects/{uuid.uuid4().hex}")
    assert (await send(node, remote, unknown))[0] == 404
    assert node.sql("SELECT count(*) FROM tallies") == before
