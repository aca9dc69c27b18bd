"""What a vote or a join causes is committed with it, and never built from a stale read.

The node runs in this process (its app on a real port, a real SQLite file, the delivery
worker left out so that whatever is queued stays visible), so that a death right after a
commit, and an organiser's edit landing in the middle of a recount, can be placed
exactly.
"""

from __future__ import annotations

import asyncio
import json
import tomllib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from actors.registry import create_chapter
from chapterhouse.app import create_app
from chapterhouse.config import parse, render_initial
from chapterhouse.services import initialise
from federation.signatures import CAVAGE, sign_request
from federation.urls import Urls
from outbox import content
from outbox.items import Item
from storage.database import Database
from tests.crash import die_after_commit
from tests.inbox.conftest import AS2, Remote, activity
from web.state import DB, NODE

LATER = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class Served:
    db: Database
    urls: Urls
    base: str  # where it listens; its ids use the configured domain

    async def post(self, remote: Remote, document: dict[str, Any]) -> int:
        url = f"{self.base}/actors/dublin/inbox"
        body = json.dumps(document).encode()
        headers = {"Content-Type": AS2}
        headers.update(sign_request(CAVAGE, "POST", url, headers, body, remote.key("alice")))
        async with ClientSession() as session, session.post(url, data=body,
                                                            headers=headers) as response:
            return response.status


@pytest.fixture
async def served(tmp_path: Path, aiohttp_server: Any) -> Served:
    raw = tomllib.loads(render_initial("127.0.0.1:1", "http", "Test"))
    raw["federation"]["allow_private_addresses"] = True
    config = parse(raw, tmp_path)
    await initialise(config)
    app = create_app(config, deliver=False)
    server = await aiohttp_server(app, host="127.0.0.1")
    await create_chapter(app[DB], "127.0.0.1:1", "dublin", "Dublin", "local")
    return Served(app[DB], app[NODE].urls, f"http://127.0.0.1:{server.port}")


async def a_poll(served: Served) -> str:
    item = Item(kind="poll", title="Which day?", options=["Mon", "Tue"], closes_at=LATER)
    return await content.publish_item(served.db, served.urls, "dublin", item)


async def an_event(served: Served) -> str:
    item = Item(kind="event", title="Bookfair", starts_at="2030-12-05T14:00",
                timezone="Europe/Dublin", place_name="Liberty Hall")
    return await content.publish_item(served.db, served.urls, "dublin", item)


def a_vote(remote: Remote, poll: str) -> dict[str, Any]:
    return activity(remote, "Create", {
        "id": f"{remote.actor('alice')}/votes/{uuid.uuid4().hex}", "type": "Note",
        "name": "Mon", "attributedTo": remote.actor("alice"), "inReplyTo": poll,
        "to": "http://127.0.0.1:1/actors/dublin"})


async def updates_of(db: Database, iri: str) -> list[dict[str, Any]]:
    rows = await db.fetchall("SELECT document FROM activities WHERE type = 'Update'")
    return [json.loads(r[0])["object"] for r in rows if json.loads(r[0])["object"]["id"] == iri]


async def stored(db: Database, iri: str) -> dict[str, Any]:
    return json.loads(await db.fetchvalue("SELECT document FROM objects WHERE iri = ?", (iri,)))


@pytest.mark.parametrize(("kind", "committed", "total"), [
    ("vote", "SELECT count(*) FROM poll_votes", "votersCount"),
    ("join", "SELECT count(*) FROM event_participants", "participantCount"),
])
async def test_the_update_with_new_totals_is_committed_with_the_vote_or_join(
    kind: str, committed: str, total: str, served: Served, remote: Remote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = await (a_poll(served) if kind == "vote" else an_event(served))
    document = a_vote(remote, item) if kind == "vote" else activity(remote, "Join", item)
    # Given the node dies the moment the vote (or join) is committed
    die_after_commit(monkeypatch, served.db, committed)
    await served.post(remote, document)
    assert await served.db.fetchvalue(committed) == 1
    # Then the Update carrying the new total is in the database all the same, queued
    # for the followers and for the voter or participant, and is what the item's URL shows
    (update,) = await updates_of(served.db, item)
    assert update[total] == 1
    assert (await stored(served.db, item))[total] == 1
    assert await served.db.fetchvalue("SELECT count(*) FROM fanouts") >= 1
    inboxes = {r[0] for r in await served.db.fetchall(
        "SELECT d.inbox FROM deliveries d JOIN activities a ON a.id = d.activity_id"
        " WHERE a.type = 'Update'")}
    assert inboxes & {f"{remote.base}/inbox", f"{remote.actor('alice')}/inbox"}


@pytest.mark.parametrize("first", ["vote", "edit"])
async def test_a_vote_during_an_edit_keeps_the_new_text_and_the_new_total(
    first: str, served: Served, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = await a_poll(served)
    # Whichever of the two reads the poll first stops right after reading it (and its
    # totals) until the other has had every chance to run.
    paused, resume = asyncio.Event(), asyncio.Event()
    real_counts = content._counts

    async def read_then_pause(conn: Any, row: Any) -> Any:
        counts = await real_counts(conn, row)
        if not paused.is_set():
            paused.set()
            await resume.wait()
        return counts

    monkeypatch.setattr(content, "_counts", read_then_pause)

    def vote() -> asyncio.Task[int]:
        return asyncio.create_task(served.post(remote, a_vote(remote, poll)))

    def edit() -> asyncio.Task[str]:
        return asyncio.create_task(
            content.edit_item(served.db, served.urls, poll, title="Which evening?"))

    one = vote() if first == "vote" else edit()
    await asyncio.wait_for(paused.wait(), 10)
    other = edit() if first == "vote" else vote()
    await asyncio.wait({other}, timeout=1)  # done by now, or waiting for the first
    resume.set()
    await asyncio.wait_for(asyncio.gather(one, other), 10)
    assert await served.db.fetchvalue("SELECT count(*) FROM poll_votes") == 1
    document = await stored(served.db, poll)
    assert "Which evening?" in document["content"]
    assert document["votersCount"] == 1
    assert await served.db.fetchvalue(
        "SELECT title FROM items WHERE object_iri = ?", (poll,)) == "Which evening?"
    # The last Update sent says the same as the URL.
    last = (await updates_of(served.db, poll))[-1]
    assert "Which evening?" in last["content"] and last["votersCount"] == 1
