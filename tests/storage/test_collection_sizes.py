"""Collection sizes kept by triggers equal what counting the rows gives, whatever happens
to the rows; and the paged queries use the indexes that keep them flat."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from storage import actors as store
from storage import hierarchy as hierarchy_store
from storage import inbox as inbox_store
from storage.database import Database, Location
from storage.paging import BadCursor, Cursor, decode, encode

KEYS = [store.NewKey("rsa-2048", "pub", "priv"), store.NewKey("ed25519", "zpub", "priv")]


async def counted(db: Database, actor_id: int) -> dict[str, int]:
    return {
        "followers": await db.fetchvalue(
            "SELECT count(*) FROM followers WHERE actor_id = ? AND state = 'accepted'",
            (actor_id,)),
        "members": await db.fetchvalue(
            "SELECT count(*) FROM memberships WHERE chapter_id = ?", (actor_id,)),
    }


async def kept(db: Database, actor_id: int) -> dict[str, int]:
    return {"followers": await store.followers_count(db, actor_id),
            "members": await store.member_count(db, actor_id)}


async def test_sizes_follow_inserts_updates_upserts_and_deletes(
    store_location: Location,
) -> None:
    async with Database(store_location, migrate=True) as db:
        chapter = await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None,
                                             KEYS)
        for n in range(3):
            await store.create_member(db, f"m{n}", "M", "dublin", None, KEYS)
        async with db.transaction() as tx:
            for n in range(5):
                await inbox_store.add_follower(tx, chapter, f"https://x.example/{n}",
                                               f"f{n}", "accepted" if n < 3 else "requested")
            # A repeated Follow is an upsert: no second row, no second count.
            await inbox_store.add_follower(tx, chapter, "https://x.example/0", "again",
                                           "accepted")
        assert await kept(db, chapter) == await counted(db, chapter) == {
            "followers": 3, "members": 3}
        async with db.transaction() as tx:
            await tx.execute("UPDATE followers SET state = 'accepted' WHERE follow_iri = 'f3'")
            await tx.execute("DELETE FROM followers WHERE follow_iri = 'f1'")
            await tx.execute("DELETE FROM followers WHERE follow_iri = 'f4'")  # requested
            await tx.execute("DELETE FROM actors WHERE handle = 'm0'")  # cascades
        assert await kept(db, chapter) == await counted(db, chapter) == {
            "followers": 3, "members": 2}


async def test_followers_pages_walk_forward_and_back(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        chapter = await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None,
                                             KEYS)
        async with db.transaction() as tx:
            for n in range(45):
                await inbox_store.add_follower(tx, chapter, f"https://x.example/{n}",
                                               f"f{n}", "accepted")
        pages, cursor = [], None
        while True:
            items, page = await store.followers_page(db, chapter, cursor, 20)
            pages.append(items)
            if page.next is None:
                break
            cursor = decode(encode(page.next), 1)
        assert [len(p) for p in pages] == [20, 20, 5]
        newest_first = [f"https://x.example/{n}" for n in reversed(range(45))]
        assert [iri for p in pages for iri in p] == newest_first
        assert page.prev is not None
        back, _ = await store.followers_page(db, chapter, page.prev, 20)
        assert back == pages[1]
        query = ("SELECT follower_iri, id FROM followers WHERE actor_id = 1"
                 " AND state = 'accepted' AND id < 5 ORDER BY id DESC LIMIT 21")
        if db.engine == "sqlite":
            plan = await db.fetchall(f"EXPLAIN QUERY PLAN {query}")
            assert "USING INDEX followers_collection" in plan[0][3]
        assert Cursor((1,), True) == decode(encode(Cursor((1,), True)), 1)


async def test_members_pages_carry_their_time_key_as_a_time(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        chapter = await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None,
                                             KEYS)
        for n in range(5):
            await store.create_member(db, f"m{n}", "M", "dublin", None, KEYS)
        first, page = await store.members_page(db, chapter, None, 2)
        assert page.next is not None
        cursor = decode(encode(page.next), 2)
        assert cursor == page.next and isinstance(cursor.keys[0], datetime)
        second, page = await store.members_page(db, chapter, cursor, 2)
        assert page.next is not None
        third, _ = await store.members_page(db, chapter, decode(encode(page.next), 2), 2)
        assert [m.handle for m in first + second + third] == ["m4", "m3", "m2", "m1", "m0"]
        assert page.prev is not None
        back, _ = await store.members_page(db, chapter, decode(encode(page.prev), 2), 2)
        assert back == first
        assert all(m.joined_at.tzinfo is not None for m in first)


def test_a_cursor_that_is_no_time_is_refused() -> None:
    token = encode(Cursor(("x", 1), True))
    bad = base64.urlsafe_b64encode(b'["n",[{"t":"yesterday"},1]]').decode().rstrip("=")
    assert decode(token, 2) == Cursor(("x", 1), True)
    with pytest.raises(BadCursor):
        decode(bad, 2)


async def test_a_request_accepted_on_a_second_join_is_paged_by_when_it_was_accepted(
    store_location: Location,
) -> None:
    async with Database(store_location, migrate=True) as db:
        chapter = await store.create_chapter(db, "ireland", "Ireland", "national", None, "",
                                             None, KEYS)
        children = [f"https://x.example/chapters/{n}" for n in range(3)]
        async with db.transaction() as tx:
            for child in children:
                await hierarchy_store.add_request(tx, chapter, child, f"{child}#1", "requested")
            for child in children:  # a second Join, accepted by a rule this time
                assert await hierarchy_store.add_request(
                    tx, chapter, child, f"{child}#2", "accepted") == "accepted"
        first, page = await store.subchapters_page(db, chapter, None, 2)
        assert page.next is not None
        rest, _ = await store.subchapters_page(db, chapter, decode(encode(page.next), 2), 2)
        assert first + rest == list(reversed(children))
