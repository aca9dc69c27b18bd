"""An organiser's decision on a follow request is taken against what is committed when it
is written, not against an earlier look."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from actors.registry import create_chapter
from chapterhouse.services import Services
from outbox import follows
from outbox.publish import PublishError
from tests.outbox.conftest import DOMAIN

FOLLOWER = "https://social.example/users/alice"


@pytest.fixture
async def node(services: Services) -> Services:
    await create_chapter(services.db, DOMAIN, "closed", "Closed", "local",
                         manually_approves=True)
    async with services.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO remote_actors (iri, type, host, inbox, document, fetched_at)"
            " VALUES (?, 'Person', 'social.example', ?, '{}', '2026-11-01T00:00:00Z')",
            (FOLLOWER, f"{FOLLOWER}/inbox"))
        await tx.execute(
            "INSERT INTO followers (actor_id, follower_iri, state, follow_iri, created_at)"
            " SELECT id, ?, 'requested', ?, '2026-11-01T00:00:00Z' FROM actors"
            " WHERE handle = 'closed'", (FOLLOWER, f"{FOLLOWER}/follows/1"))
    return services


async def test_a_chapter_created_for_manual_approval_never_accepts_by_itself(
    node: Services
) -> None:
    assert await node.db.fetchvalue(
        "SELECT manually_approves FROM actors WHERE handle = 'closed'") == 1


async def test_a_request_withdrawn_while_the_organiser_decides_gets_no_accept(
    node: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = node.db.transaction

    @asynccontextmanager
    async def undo_arrives_first() -> AsyncIterator[Any]:
        # The follower's Undo is committed just before the organiser's answer is written.
        async with real() as tx:
            await tx.execute("DELETE FROM followers WHERE follower_iri = ?", (FOLLOWER,))
        async with real() as tx:
            yield tx

    monkeypatch.setattr(node.db, "transaction", undo_arrives_first)
    with pytest.raises(PublishError, match="has not asked"):
        await follows.decide(node.db, node.urls, "closed", FOLLOWER, accept=True)
    monkeypatch.undo()
    sent = [json.loads(doc)["type"] for (doc,) in await node.db.fetchall(
        "SELECT document FROM activities", ())]
    assert "Accept" not in sent
    assert await node.db.fetchvalue("SELECT count(*) FROM followers") == 0
