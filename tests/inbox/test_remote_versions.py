"""Which version of a remote object wins: the newer by its times, not by how they read."""

from __future__ import annotations

from pathlib import Path

from actors.registry import create_chapter
from storage import inbox as store
from storage.database import Database
from storage.timestamps import from_wire, now


def version(content: str, updated: str | None) -> store.RemoteObjectVersion:
    return store.RemoteObjectVersion(
        iri="https://peer.example/objects/1", type="Note",
        attributed_to="https://peer.example/users/ana", content=content, summary=None,
        in_reply_to=None, published=from_wire("2026-11-27T08:00:00Z"),
        updated=from_wire(updated), meeting_date=None, document={"content": content})


async def test_a_replayed_version_is_older_whatever_its_zone(
    store_location: Path | str,
) -> None:
    async with Database(store_location, migrate=True) as db:
        async with db.transaction() as tx:
            first = await store.store_remote_object(
                tx, version("ten", "2026-11-27T10:00:00Z"), [])
        # 11:00 at +02:00 is 09:00 UTC: older, although its text sorts after the stored one.
        async with db.transaction() as tx:
            replay = await store.store_remote_object(
                tx, version("nine", "2026-11-27T11:00:00+02:00"), [], newer_only=True)
        async with db.transaction() as tx:
            newer = await store.store_remote_object(
                tx, version("eleven", "2026-11-27T12:00:00+01:00"), [], newer_only=True)
        assert (first, replay, newer) == (
            store.Stored.CREATED, store.Stored.KEPT, store.Stored.REPLACED)
        assert await db.fetchvalue(
            "SELECT content FROM remote_objects WHERE iri = ?",
            ("https://peer.example/objects/1",)) == "eleven"



async def test_the_subchapter_that_passed_an_object_up_is_kept_whichever_copy_came_first(
    store_location: Path | str,
) -> None:
    """Minutes reach a parent twice, from their author and announced by a subchapter, in
    either order; the page says "via" the subchapter both ways, and a chapter that is not
    a subchapter (a parent announcing down) changes nothing."""
    author, child = "https://peer.example/actors/dublin", "https://peer.example/actors/leinster"
    parent = "https://up.example/actors/ireland"
    async with Database(store_location, migrate=True) as db:
        ireland = await create_chapter(db, "up.example", "ireland", "Ireland", "national")
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
                " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
                (ireland, child, f"{child}#join", now(), now()))
        for order in ((author, child, parent), (child, author, parent)):
            iri = f"https://peer.example/objects/{order[0].rsplit('/', 1)[1]}"
            copy = store.RemoteObjectVersion(**{**vars(version("m", None)), "iri": iri,
                                                "attributed_to": author})
            for sender in order:
                async with db.transaction() as tx:
                    await store.store_remote_object(tx, copy, [ireland], via=sender)
            assert await db.fetchvalue(
                "SELECT via FROM remote_objects WHERE iri = ?", (iri,)) == child, order
