"""Items pass between chapters of one node as they do between nodes: minutes climb, each
level keeping them and announcing them to its followers, edits climb after them, and
what a parent publishes its subchapters announce. All of it committed with the item,
and nothing sent over HTTP to ourselves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.registry import create_chapter
from chapterhouse.services import Services
from hierarchy.affiliation import affiliate_local, leave
from outbox.content import delete_item, edit_item, publish_item
from outbox.items import Item
from outbox.publish import post_note
from storage import hierarchy as hierarchy_store
from storage.database import Database
from tests.outbox.conftest import DOMAIN


@pytest.fixture
async def node(services: Services) -> Services:
    """Dublin (local) → Leinster (regional) → Ireland (national), all on this node, with
    Cork (local) not affiliated to anything."""
    for slug, level in (("dublin", "local"), ("leinster", "regional"),
                        ("ireland", "national"), ("cork", "local")):
        await create_chapter(services.db, DOMAIN, slug, slug.title(), level)
    for child, parent in (("dublin", "leinster"), ("leinster", "ireland")):
        _, state = await affiliate_local(services.db, services.urls, child, parent, DOMAIN,
                                         accept=True)
        assert state == "accepted"
    return services


def minutes(title: str = "Minutes of November") -> Item:
    return Item(kind="minutes", title=title, body="1. Bookfair", meeting_date="2026-11-20")


async def announces(db: Database, object_iri: str) -> list[tuple[str, dict[str, Any]]]:
    """(who, the Announce) of every Announce of this object, oldest first."""
    rows = await db.fetchall(
        "SELECT a.handle, x.document FROM activities x JOIN actors a ON a.id = x.actor_id"
        " WHERE x.type = 'Announce' ORDER BY x.id")
    found = [(row[0], json.loads(row[1])) for row in rows]
    return [(who, doc) for who, doc in found if doc["object"]["id"] == object_iri]


async def chapter_id(db: Database, handle: str) -> int:
    return int(await db.fetchvalue("SELECT id FROM actors WHERE handle = ?", (handle,)))


async def page_minutes(db: Database, handle: str) -> list[hierarchy_store.Minutes]:
    return await hierarchy_store.subtree_minutes(db, await chapter_id(db, handle))


async def test_minutes_climb_every_level_of_one_node(node: Services) -> None:
    db, urls = node.db, node.urls
    iri = await publish_item(db, urls, "dublin", minutes())
    create = json.loads(await db.fetchvalue(
        "SELECT document FROM activities WHERE type = 'Create'"))
    assert urls.actor("leinster") in create["cc"]  # addressed to the parent, as elsewhere
    found = await announces(db, iri)
    assert [who for who, _ in found] == ["leinster", "ireland"]
    by_leinster, by_ireland = (doc for _, doc in found)
    # FEP-1b12: the object itself, with its proof; each names its own parent, if any.
    assert by_leinster["object"]["proof"]["verificationMethod"] == urls.ed25519_key("dublin")
    assert by_leinster["cc"] == [urls.collection("leinster", "followers"), urls.actor("ireland")]
    assert by_ireland["cc"] == [urls.collection("ireland", "followers")]
    # Each level's followers get its Announce: one fan-out each, no request to ourselves.
    fanouts = await db.fetchall(
        "SELECT a.type, x.handle FROM fanouts f JOIN activities a ON a.id = f.activity_id"
        " JOIN actors x ON x.id = f.actor_id WHERE a.type != 'Update' ORDER BY f.id")
    assert [tuple(row) for row in fanouts] == [
        ("Create", "dublin"), ("Announce", "leinster"), ("Announce", "ireland")]
    assert await db.fetchvalue("SELECT count(*) FROM deliveries") == 0
    # Each page lists them, with the chapter that passed them on further up.
    (at_leinster,) = await page_minutes(db, "leinster")
    assert (at_leinster.name, at_leinster.chapter_name, at_leinster.via_name) == (
        "Minutes of November", "Dublin", None)
    (at_ireland,) = await page_minutes(db, "ireland")
    assert (at_ireland.chapter_name, at_ireland.via_name) == ("Dublin", "Leinster")
    assert await page_minutes(db, "dublin") == []
    below = await hierarchy_store.subtree_chapters(db, await chapter_id(db, "ireland"),
                                                   local_prefix=urls.actor(""))
    assert {ref.name for ref in below} == {"Leinster", "Dublin"}


async def test_an_edit_climbs_and_the_pages_show_it(node: Services) -> None:
    db, urls = node.db, node.urls
    iri = await publish_item(db, urls, "dublin", minutes())
    await edit_item(db, urls, iri, title="Minutes of November (corrected)")
    found = await announces(db, iri)
    assert [who for who, _ in found] == ["leinster", "ireland", "leinster", "ireland"]
    newer = found[3][1]["object"]
    assert newer["name"] == "Minutes of November (corrected)"
    assert newer["updated"] > newer["published"] and "proof" in newer
    assert [m.name for m in await page_minutes(db, "ireland")] == [
        "Minutes of November (corrected)"]
    # A deletion shows at once (the page reads the item itself), and climbs like the
    # minutes did: each level announces the author's proven Delete.
    delete = await delete_item(db, urls, iri)
    assert await page_minutes(db, "leinster") == []
    found = await announces(db, delete)
    assert [who for who, _ in found] == ["leinster", "ireland"]
    assert found[0][1]["object"]["object"]["id"] == iri and "proof" in found[0][1]["object"]


async def test_only_minutes_and_what_is_marked_climb(node: Services) -> None:
    db, urls = node.db, node.urls
    news = await publish_item(db, urls, "dublin", Item(kind="news", title="Bookfair"))
    assert await announces(db, news) == []
    marked = await publish_item(db, urls, "dublin", Item(kind="news", title="Report"),
                                upward=True)
    assert [who for who, _ in await announces(db, marked)] == ["leinster", "ireland"]
    assert await page_minutes(db, "leinster") == []  # the page lists minutes only


async def test_what_a_parent_publishes_its_subchapters_announce(node: Services) -> None:
    db, urls = node.db, node.urls
    news = await publish_item(db, urls, "leinster", Item(kind="news", title="Assembly"))
    ((who, announce),) = await announces(db, news)
    # Dublin tells its own followers, and not back up.
    assert who == "dublin" and announce["cc"] == [urls.collection("dublin", "followers")]
    note = await post_note(db, urls, "leinster", "See you at the assembly")
    assert [who for who, _ in await announces(db, note)] == ["dublin"]
    assert await announces(db, await post_note(db, urls, "dublin", "Hello")) == []
    # Leinster's own minutes: up to Ireland, and down to Dublin.
    own = await publish_item(db, urls, "leinster", minutes("Regional minutes"))
    assert sorted(who for who, _ in await announces(db, own)) == ["dublin", "ireland"]
    (at_ireland,) = await page_minutes(db, "ireland")
    assert (at_ireland.chapter_name, at_ireland.via_name) == ("Leinster", None)


async def test_minutes_reach_only_the_parent_they_were_sent_to(node: Services) -> None:
    db, urls = node.db, node.urls
    before = await publish_item(db, urls, "cork", minutes("Before joining"))
    _, state = await affiliate_local(db, urls, "cork", "leinster", DOMAIN, accept=True)
    assert state == "accepted"
    assert await page_minutes(db, "leinster") == []  # never addressed to Leinster
    await edit_item(db, urls, before, title="Before joining, corrected")
    assert await announces(db, before) == []
    sent = await publish_item(db, urls, "cork", minutes("After joining"))
    await leave(db, urls, "cork", DOMAIN)
    # What reached a parent stays there, as it would on another node; the chapter's
    # later edits no longer climb.
    assert [m.name for m in await page_minutes(db, "leinster")] == ["After joining"]
    await edit_item(db, urls, sent, title="After leaving")
    assert [who for who, _ in await announces(db, sent)] == ["leinster", "ireland"]
