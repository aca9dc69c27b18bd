"""The projects migration on a database that already has items: every vote and
participation stays (SQLite's CHECK on the kind is loosened in place, not by rebuilding
the table, which would cascade-delete them), a project can be stored, and the kinds and
statuses are still checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.database import Database, bundled_migrations
from storage.timestamps import now


async def test_projects_arrive_and_nothing_older_is_lost(store_location: Path | str,
                                                         engine: str) -> None:
    [projects] = [m for m in bundled_migrations(engine) if m.name.endswith("projects")]
    async with Database(store_location, migrate=True, up_to=projects.version - 1) as db, \
            db.transaction() as tx:
        moment = now()
        await tx.execute("INSERT INTO actors (kind, handle, name, created_at)"
                         " VALUES ('chapter', 'dublin', 'IOPS Dublin', ?)", (moment,))
        actor = await tx.fetchvalue("SELECT id FROM actors WHERE handle = 'dublin'")
        for n, kind in ((1, "poll"), (2, "event")):
            iri = f"https://a.example/objects/{n}"
            await tx.execute("INSERT INTO objects (iri, actor_id, type, document, published)"
                             " VALUES (?, ?, 'Question', '{}', ?)", (iri, actor, moment))
            await tx.execute("INSERT INTO items (object_iri, actor_id, kind, title, published)"
                             " VALUES (?, ?, ?, 'Old', ?)", (iri, actor, kind, moment))
        poll, event = [row[0] for row in await tx.fetchall("SELECT id FROM items ORDER BY id")]
        await tx.execute("INSERT INTO poll_votes (item_id, voter, choice, note_iri, created_at)"
                         " VALUES (?, 'https://b.example/u/1', 'Yes', 'n1', ?)", (poll, moment))
        await tx.execute("INSERT INTO event_participants (item_id, participant, join_iri,"
                         " created_at) VALUES (?, 'https://b.example/u/1', 'j1', ?)",
                         (event, moment))

    async with Database(store_location, migrate=True) as db:
        assert db.applied[0].name.endswith("projects")
        async with db.transaction() as tx:
            assert await tx.fetchvalue("SELECT count(*) FROM poll_votes") == 1
            assert await tx.fetchvalue("SELECT count(*) FROM event_participants") == 1
            actor = await tx.fetchvalue("SELECT id FROM actors WHERE handle = 'dublin'")
            await tx.execute("INSERT INTO objects (iri, actor_id, type, document, published)"
                             " VALUES ('https://a.example/objects/3', ?, 'Article', '{}', ?)",
                             (actor, now()))
            await tx.execute(
                "INSERT INTO items (object_iri, actor_id, kind, title, published,"
                " project_status, started_by) VALUES ('https://a.example/objects/3', ?,"
                " 'project', 'Tool-share', ?, 'active', 'ana')", (actor, now()))
        for kind, status in (("gossip", None), ("project", "someday")):
            with pytest.raises(Exception, match=r"(?i)check"):
                async with db.transaction() as tx:
                    await tx.execute(
                        "INSERT INTO items (object_iri, actor_id, kind, title, published,"
                        " project_status) VALUES ('https://a.example/objects/3', ?, ?, 'X',"
                        " ?, ?)", (actor, kind, now(), status))
