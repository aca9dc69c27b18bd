"""What an organiser's command or the poll scheduler changes, and the Update that tells
the followers, are committed together: a node killed right after the change still has
the Update to send when it restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actors.registry import create_chapter
from chapterhouse.services import Services
from hierarchy import affiliation
from outbox.content import close_due_polls, publish_item
from outbox.items import Item
from storage import hierarchy as hierarchy_store
from storage import remote as remote_store
from tests.crash import Killed, die_after_commit
from tests.outbox.conftest import DOMAIN

OTHER = "http://127.0.0.1:2"


@pytest.fixture
async def node(services: Services) -> Services:
    return services


async def chapter_elsewhere(node: Services, name: str, level: str) -> str:
    iri = f"{OTHER}/actors/{name}"
    await remote_store.save_actor(node.db, {
        "iri": iri, "type": "Group", "host": "127.0.0.1:2", "inbox": f"{iri}/inbox",
        "shared_inbox": f"{OTHER}/inbox", "username": name, "name": name,
        "document": json.dumps({"id": iri, "type": "Group", "level": level})}, [], {})
    return iri


async def actor_updates(node: Services, handle: str) -> list[dict[str, Any]]:
    rows = await node.db.fetchall(
        "SELECT a.document FROM activities a WHERE a.type = 'Update'"
        " AND a.id IN (SELECT activity_id FROM fanouts)")
    return [d["object"] for d in (json.loads(r[0]) for r in rows)
            if d["object"]["id"] == node.urls.actor(handle)]


async def test_accepting_a_subchapter_commits_the_actor_update_with_it(
    node: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_chapter(node.db, DOMAIN, "ireland", "Ireland", "national")
    child = await chapter_elsewhere(node, "dublin", "local")
    ireland = await node.db.fetchvalue("SELECT id FROM actors WHERE handle = 'ireland'")
    async with node.db.transaction() as tx:
        await hierarchy_store.add_request(tx, ireland, child, f"{child}/join/1", "requested")
    die_after_commit(monkeypatch, node.db,
                     "SELECT count(*) FROM subchapters WHERE state = 'accepted'")
    with pytest.raises(Killed):
        await affiliation.decide(node.db, node.urls, "ireland", child, True, DOMAIN)
    assert len(await actor_updates(node, "ireland")) == 1


async def test_leaving_a_parent_commits_the_actor_update_with_it(
    node: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_chapter(node.db, DOMAIN, "dublin", "Dublin", "local")
    parent = await chapter_elsewhere(node, "ireland", "national")
    dublin = await node.db.fetchvalue("SELECT id FROM actors WHERE handle = 'dublin'")
    async with node.db.transaction() as tx:
        await hierarchy_store.request_parent(tx, dublin, parent, f"{OTHER}/join/1")
        await hierarchy_store.answer_from_parent(tx, parent, None, accepted=True)
    die_after_commit(monkeypatch, node.db, "SELECT count(*) = 0 FROM parents")
    with pytest.raises(Killed):
        await affiliation.leave(node.db, node.urls, "dublin", DOMAIN)
    (update,) = await actor_updates(node, "dublin")
    assert "parent" not in update  # and it says what the commit made true


async def test_closing_a_poll_commits_its_final_update_with_it(
    node: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_chapter(node.db, DOMAIN, "dublin", "Dublin", "local")
    closes = datetime.now(UTC) + timedelta(days=1)
    poll = await publish_item(node.db, node.urls, "dublin", Item(
        kind="poll", title="Which day?", options=["Mon", "Tue"],
        closes_at=closes.strftime("%Y-%m-%dT%H:%M:%S+00:00")))
    die_after_commit(monkeypatch, node.db,
                     "SELECT count(*) FROM items WHERE closed_at IS NOT NULL")
    with pytest.raises(Killed):
        await close_due_polls(node.db, node.urls, now=closes + timedelta(minutes=1))
    rows = await node.db.fetchall("SELECT document FROM activities WHERE type = 'Update'")
    (final,) = [json.loads(r[0])["object"] for r in rows]
    assert final["id"] == poll and "closed" in final
