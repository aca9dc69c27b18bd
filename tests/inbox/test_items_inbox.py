"""Votes on polls and participation in events, sent to a real node by remote actors."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.inbox.conftest import Remote, activity, post
from tests.nodes import Node

AS2 = "application/activity+json"
LATER = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("votes")).federating().chapter("dublin", "Dublin")
    node.start()
    yield node
    node.stop()


def poll(node: Node, *options: str, multiple: bool = False, closes: str = LATER) -> str:
    args = ["post", "poll", "--chapter", "dublin", "--question", "Which?", "--closes", closes]
    for option in options:
        args += ["--option", option]
    result = node.cli(*args, *(["--multiple"] if multiple else []))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def vote_note(remote: Remote, question: str, choice: str, name: str = "alice") -> dict[str, Any]:
    return {"id": f"{remote.actor(name)}/votes/{uuid.uuid4().hex}", "type": "Note",
            "name": choice, "attributedTo": remote.actor(name), "inReplyTo": question,
            "to": f"{question.rsplit('/objects/', 1)[0]}/actors/dublin"}


async def send(node: Node, remote: Remote, document: dict[str, Any],
               name: str = "alice") -> tuple[int, str]:
    return await post(node, json.dumps(document).encode(), remote.key(name))


def question(node: Node, iri: str) -> dict[str, Any]:
    return node.get(iri.removeprefix(node.base), accept=AS2).json()


def totals(doc: dict[str, Any]) -> dict[str, int]:
    options = doc.get("oneOf") or doc.get("anyOf")
    return {o["name"]: o["replies"]["totalItems"] for o in options}


async def test_a_mastodon_vote_counts_once(node: Node, remote: Remote) -> None:
    iri = poll(node, "Yes", "No")
    status, text = await send(node, remote, activity(remote, "Create",
                                                     vote_note(remote, iri, "Yes")))
    assert status == 202, text
    doc = question(node, iri)
    assert totals(doc) == {"Yes": 1, "No": 0} and doc["votersCount"] == 1
    # The totals go out by Update, to the followers and to the voter.
    updates = node.sql("SELECT a.document FROM activities a WHERE a.type = 'Update'")
    assert json.loads(updates[-1][0])["object"]["votersCount"] == 1
    inboxes = {row[0] for row in node.sql(
        "SELECT d.inbox FROM deliveries d JOIN activities a ON a.id = d.activity_id"
        " WHERE a.type = 'Update'")}
    assert f"{remote.base}/inbox" in inboxes
    # A second vote, even for the other option, is refused and changes nothing.
    status, text = await send(node, remote, activity(remote, "Create",
                                                     vote_note(remote, iri, "No")))
    assert status == 403 and "already voted" in text
    assert totals(question(node, iri)) == {"Yes": 1, "No": 0}


async def test_an_unknown_option_is_refused(node: Node, remote: Remote) -> None:
    iri = poll(node, "Yes", "No")
    status, text = await send(node, remote, activity(remote, "Create",
                                                     vote_note(remote, iri, "Maybe")))
    assert status == 422 and "not an option" in text
    assert question(node, iri)["votersCount"] == 0


async def test_a_vote_after_closing_is_refused_and_the_poll_closes(
    node: Node, remote: Remote
) -> None:
    # Far enough ahead that the CLI, slow to start on a busy machine, still finds it in
    # the future; then wait until it has passed.
    closes = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    iri = poll(node, "Yes", "No", closes=closes.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    await asyncio.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 1)
    status, text = await send(node, remote, activity(remote, "Create",
                                                     vote_note(remote, iri, "Yes")))
    assert status == 403 and "closed" in text
    # The node closes it on its own and sends the final Update with `closed`.
    for _ in range(200):
        if "closed" in question(node, iri):
            break
        await asyncio.sleep(0.1)
    assert "closed" in question(node, iri)


async def test_gotosocial_votes_in_one_create_for_a_multiple_choice_poll(
    node: Node, remote: Remote
) -> None:
    iri = poll(node, "Mon", "Tue", "Wed", multiple=True)
    notes = [vote_note(remote, iri, "Mon"), vote_note(remote, iri, "Wed")]
    status, text = await send(node, remote, activity(remote, "Create", notes))
    assert status == 202, text
    doc = question(node, iri)
    assert totals(doc) == {"Mon": 1, "Tue": 0, "Wed": 1} and doc["votersCount"] == 1
    # Mastodon's way for the same voter: one Create per option; a repeated option is refused.
    status, _ = await send(node, remote, activity(remote, "Create",
                                                  vote_note(remote, iri, "Tue")))
    assert status == 202
    status, _ = await send(node, remote, activity(remote, "Create",
                                                  vote_note(remote, iri, "Mon")))
    assert status == 403
    assert totals(question(node, iri)) == {"Mon": 1, "Tue": 1, "Wed": 1}


async def test_event_joins_fill_up_and_leaves_free_a_place(node: Node, remote: Remote) -> None:
    result = node.cli("post", "event", "--chapter", "dublin", "--title", "Small meeting",
                      "--start", "2026-12-05T14:00", "--timezone", "Europe/Dublin",
                      "--place-name", "Kitchen", "--capacity", "1")
    event = result.stdout.strip()
    status, _ = await send(node, remote, activity(remote, "Join", event))
    assert status == 202
    doc = question(node, event)
    assert doc["participantCount"] == 1 and doc["remainingAttendeeCapacity"] == 0
    status, _ = await send(node, remote, activity(remote, "Join", event, name="mallory"),
                           name="mallory")
    assert status == 202
    answers = [json.loads(d)["type"] for (d,) in node.sql(
        "SELECT document FROM activities WHERE type IN ('Accept', 'Reject') ORDER BY id")]
    assert answers[-2:] == ["Accept", "Reject"]  # the second one found it full
    assert question(node, event)["participantCount"] == 1
    status, _ = await send(node, remote, activity(remote, "Leave", event))
    assert status == 202
    assert question(node, event)["participantCount"] == 0


async def test_a_reply_to_an_item_is_stored_sanitised(node: Node, remote: Remote) -> None:
    news = node.cli("post", "news", "--chapter", "dublin", "--title", "Bookfair",
                    stdin="Come along.").stdout.strip()
    reply = {"id": f"{remote.actor('alice')}/notes/{uuid.uuid4().hex}", "type": "Note",
             "attributedTo": remote.actor("alice"), "inReplyTo": news,
             "content": '<p>See you there! <img src="x" onerror="alert(1)"></p>',
             "to": ["https://www.w3.org/ns/activitystreams#Public"]}
    # Through the shared inbox and addressed only to the public: it is kept because it
    # replies to one of our items.
    status, text = await post(node, json.dumps(activity(remote, "Create", reply)).encode(),
                              remote.key("alice"), path="/inbox")
    assert status == 202, text
    assert node.sql("SELECT content FROM remote_objects WHERE in_reply_to = ?", news) == [
        ("<p>See you there! </p>",)]
