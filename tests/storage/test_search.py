"""Search as the storage interface answers it, on a real database of the run's engine:
what is found (items, notes, minutes relayed from a subchapter), what stops being found
(an edit, a deletion, a tombstone), ranking, safe queries, markers that no text can forge,
paging, and an index built for what a database held before the migration."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from actors.registry import add_member, create_chapter
from federation.urls import Urls
from outbox.content import delete_item, edit_item, publish_item
from outbox.items import Item
from storage import inbox as inbox_store
from storage.database import Database
from storage.paging import BadCursor
from storage.search import SearchHit, search, terms
from storage.search_text import START, STOP

HOST = "node.test"
URLS = Urls(f"https://{HOST}")
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CHILD = "https://child.example/actors/galway"


def marked(text: str) -> list[str]:
    """The words between the markers."""
    return [part.split(STOP)[0] for part in text.split(START)[1:]]


async def _node(location: Path | str) -> Database:
    db = Database(location, migrate=True)
    await db.open()
    await create_chapter(db, HOST, "dublin", "IOPS Dublin", "local")
    await add_member(db, HOST, "ana", "dublin", "Ana Byrne")
    return db


async def _relayed(db: Database, number: int, name: str, content: str,
                   to: list[str] | None = None, kind: str = "Article",
                   updated: datetime | None = None, audience: int | None = None,
                   summary: str | None = None) -> str:
    iri = f"https://child.example/objects/{number}"
    document = {"id": iri, "type": kind, "attributedTo": CHILD, "name": name,
                "content": content, "meetingDate": "2026-11-20", "to": to or [PUBLIC],
                "published": "2026-11-21T10:00:00Z"}
    chapter = audience or await db.fetchvalue("SELECT id FROM actors WHERE handle = 'dublin'")
    async with db.transaction() as tx:
        await inbox_store.store_remote_object(tx, inbox_store.RemoteObjectVersion(
            iri=iri, type=kind, attributed_to=CHILD, content=content, summary=summary,
            in_reply_to=None, published=datetime(2026, 11, 21, 10, tzinfo=UTC), updated=updated,
            meeting_date="2026-11-20", document=document), [int(chapter)])
    return iri


def links(hits: list[SearchHit]) -> list[str]:
    return [hit.link for hit in hits]


@pytest.fixture
async def db(store_location: Path | str) -> AsyncIterator[Database]:
    database = await _node(store_location)
    yield database
    await database.close()


async def test_items_are_found_by_title_and_text_and_leave_when_deleted(db: Database) -> None:
    news = await publish_item(db, URLS, "dublin", Item(
        kind="news", title="Bookfair in the Teachers' Club",
        body="Come and see the anarchist bookfair, tables for every group."))
    minutes = await publish_item(db, URLS, "dublin", Item(
        kind="minutes", title="General meeting", meeting_date="2026-11-02",
        body="We agreed to run a bookfair stall and to meet in December."))
    await publish_item(db, URLS, "dublin", Item(kind="blog", title="Unrelated",
                                                body="Nothing to see."))

    page = await search(db, "bookfair")
    assert set(links(page.hits)) == {news, minutes}
    # Ranked: the word in the title counts more than in the text.
    assert page.hits[0].link == news
    hit = page.hits[0]
    assert hit.kind == "news" and hit.chapter == "IOPS Dublin" and hit.chapter_link == "/@dublin"
    assert [w.lower() for w in marked(hit.title)] == ["bookfair"]
    assert page.hits[1].kind == "minutes"
    assert [w.lower() for w in marked(page.hits[1].snippet)] == ["bookfair"]
    # The stemmer: "meetings" finds "meeting"; two words must both be there.
    assert links((await search(db, "meetings")).hits) == [minutes]
    assert links((await search(db, "bookfair december")).hits) == [minutes]
    # A phrase is a phrase; a -word leaves out.
    assert links((await search(db, '"bookfair stall"')).hits) == [minutes]
    assert links((await search(db, "bookfair -december")).hits) == [news]

    await edit_item(db, URLS, minutes, body="We agreed to hold a jumble sale.")
    assert links((await search(db, "bookfair")).hits) == [news]
    assert links((await search(db, "jumble")).hits) == [minutes]
    await delete_item(db, URLS, news)
    assert (await search(db, "bookfair")).hits == []


async def test_relayed_minutes_are_found_until_their_author_deletes_them(db: Database) -> None:
    iri = await _relayed(db, 1, "Galway branch minutes", "<p>We discussed the <b>housing</b>"
                                                         " campaign &amp; rent strikes.</p>")
    hidden = await _relayed(db, 2, "Followers only", "<p>housing plans</p>",
                            to=[f"{CHILD}/followers"])
    page = await search(db, "housing")
    assert len(page.hits) == 1
    hit = page.hits[0]
    assert hit.kind == "minutes" and not hit.local and hit.link.startswith("/remote/")
    # Plain text: no tags, entities read.
    assert "<p>" not in hit.snippet and "& rent" in hit.snippet
    assert marked(hit.snippet) == ["housing"]
    assert hidden not in links(page.hits)
    # A new version from its author replaces the old text in the index.
    assert await _relayed(db, 1, "Galway branch minutes", "<p>Tenants' union talks.</p>",
                          updated=datetime(2026, 11, 22, tzinfo=UTC)) == iri
    assert (await search(db, "housing")).hits == []
    assert len((await search(db, "tenants")).hits) == 1
    # Reaching only a member (not one of our chapters) does not make it searchable.
    member = await db.fetchvalue("SELECT id FROM actors WHERE handle = 'ana'")
    await _relayed(db, 4, "To a member", "<p>tenants again</p>", audience=int(member))
    assert len((await search(db, "tenants")).hits) == 1
    async with db.transaction() as tx:
        assert await inbox_store.delete_remote_object(tx, iri)
    assert (await search(db, "tenants")).hits == []


async def test_text_cannot_forge_the_markers_and_any_query_is_safe(db: Database) -> None:
    await publish_item(db, URLS, "dublin", Item(
        kind="news", title=f"<mark>Trap</mark> {START}fake{STOP}",
        body=f"Text with <mark>tags</mark> and {START}markers{STOP} around the word trap."))
    hits = (await search(db, "trap")).hits
    assert len(hits) == 1
    # Only the index's markers remain, around the matched word; the text's "<mark>" is
    # plain text still to be escaped.
    assert marked(hits[0].title) == ["Trap"]
    assert "<mark>" in hits[0].title and START + "fake" not in hits[0].title
    assert hits[0].snippet.count(START) == hits[0].snippet.count(STOP) == 1
    for query in ['"', '"unclosed', "AND", "OR", "NOT", "trap AND", "-", "-trap", "*",
                  "trap*", "NEAR(trap fake)", "trap:", "^trap", "(", ")", "col:trap",
                  "'", "''", "\\", "&|!", "{}", "trap OR", '""', "+++", "\x00", "ß"]:
        page = await search(db, query)  # never an error
        assert isinstance(page.hits, list)
    assert (await search(db, "")).hits == []
    assert (await search(db, "   ")).hits == []
    assert links((await search(db, "trap*")).hits) == links(hits)


def test_what_is_typed_becomes_quoted_terms() -> None:
    asked = terms('budget "rent strike" -eviction NEAR(x y) don\'t')
    assert asked.wanted == (("budget",), ("rent", "strike"), ("NEAR", "x"), ("y",),
                            ("don", "t"))
    assert asked.unwanted == (("eviction",),)
    assert asked.fts5() == '("budget" "rent strike" "NEAR x" "y" "don t") NOT "eviction"'
    assert asked.websearch() == '"budget" "rent strike" "NEAR x" "y" "don t" -"eviction"'
    assert terms("-only -negative").wanted == ()


async def test_many_results_come_a_page_at_a_time(db: Database) -> None:
    made = set()
    for number in range(25):
        made.add(await publish_item(db, URLS, "dublin", Item(
            kind="news", title=f"Assembly report {number}", body="assembly")))
    first = await search(db, "assembly", limit=10)
    assert len(first.hits) == 10 and first.next and first.prev is None
    second = await search(db, "assembly", first.next, limit=10)
    third = await search(db, "assembly", second.next, limit=10)
    assert len(third.hits) == 5 and third.next is None
    assert second.prev == ""  # back to the first page
    assert third.prev is not None
    back = await search(db, "assembly", third.prev, limit=10)
    assert links(back.hits) == links(second.hits)
    assert set(links(first.hits + second.hits + third.hits)) == made
    for bad in ("nonsense", "eyJ4IjoxfQ", "WyJwIixbMTBdXQ"):
        with pytest.raises(BadCursor):
            await search(db, "assembly", bad)


async def test_the_migration_indexes_what_the_database_already_held(
        store_location: Path | str) -> None:
    async with Database(store_location, migrate=True, up_to=_before_search(
            store_location)) as old:
        await create_chapter(old, HOST, "dublin", "IOPS Dublin", "local")
        # Written as that schema held items: today's publish_item writes columns (an
        # item's language, a project's status) that came after it.
        earlier = URLS.object("before-search")
        chapter = await old.fetchvalue("SELECT id FROM actors WHERE handle = 'dublin'")
        async with old.transaction() as tx:
            await tx.execute(
                "INSERT INTO objects (iri, actor_id, type, document, published)"
                " VALUES (?, ?, 'Article', ?, ?)",
                (earlier, chapter, json.dumps({"id": earlier, "type": "Article"}),
                 datetime(2026, 10, 1, tzinfo=UTC)))
            await tx.execute(
                "INSERT INTO items (object_iri, actor_id, kind, title, body, published)"
                " VALUES (?, ?, 'news', 'Written before search existed', 'archaeology', ?)",
                (earlier, chapter, datetime(2026, 10, 1, tzinfo=UTC)))
        await _relayed(old, 3, "Old minutes", "<p>archaeology of the branch</p>")
    async with Database(store_location, migrate=True) as db:
        hits = (await search(db, "archaeology")).hits
        assert earlier in links(hits) and len(hits) == 2
        assert {hit.kind for hit in hits} == {"news", "minutes"}


def _before_search(location: Path | str) -> int:
    return 11 if isinstance(location, str) else 16


async def test_a_note_is_found_and_a_reply_is_not(db: Database) -> None:
    member = await db.fetchvalue("SELECT id FROM actors WHERE handle = 'ana'")
    async with db.transaction() as tx:
        for number, extra in ((1, {}), (2, {"inReplyTo": "https://x.example/1"})):
            iri = URLS.object(f"note-{number}")
            await tx.execute(
                "INSERT INTO objects (iri, actor_id, type, document, published)"
                " VALUES (?, ?, 'Note', ?, ?)",
                (iri, member, json.dumps({"id": iri, "type": "Note", "content":
                                          "<p>Solidarity forever</p>", **extra}),
                 datetime(2026, 11, 1, tzinfo=UTC)))
    hits = (await search(db, "solidarity")).hits
    assert links(hits) == [URLS.object("note-1")]
    assert hits[0].kind == "note" and hits[0].chapter == "Ana Byrne"


async def test_a_snippet_of_a_markdown_body_holds_its_words_not_its_marks(
        db: Database) -> None:
    minutes = await publish_item(db, URLS, "dublin", Item(
        kind="minutes", title="November meeting", meeting_date="2026-11-24",
        body="## Present\n\nAna, Cian\n\n## Decisions\n\n- Start an **allotment** group\n"
             "1. Read [the plan](https://plan.example/allotment.pdf) by `Friday`\n"))
    [hit] = (await search(db, "allotment")).hits
    assert hit.link == minutes
    snippet = hit.snippet.replace(START, "").replace(STOP, "")
    assert snippet == ("Present Ana, Cian Decisions Start an allotment group Read the plan "
                       "by Friday")
    # The link's address is not text of the minutes: its words find nothing.
    assert (await search(db, "pdf")).hits == []


async def test_relayed_text_is_indexed_once_though_its_summary_repeats_its_start(
        db: Database) -> None:
    # What Chapterhouse nodes send: a summary made from the start of the text.
    await _relayed(db, 1, "Cabra minutes", "<p>We agreed to start a community allotment.</p>",
                   summary="We agreed to start a community allotment.")
    [hit] = (await search(db, "allotment")).hits
    assert marked(hit.snippet) == ["allotment"]
    # Without a text, the summary is what is found.
    await _relayed(db, 2, "Summary only", "", summary="Rent strike meeting on Friday.")
    assert len((await search(db, "strike")).hits) == 1
