"""Archives as a visitor pages through them: every section of the node and of a chapter,
newest first, 20 a page, Older and Newer links that walk the whole section without a gap
or a repeat (minutes merged from the node's own, those climbed from a subchapter of this
node and those relayed from a remote one), a 400 page for a cursor we did not make, and
links from the home and chapter pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from actors.registry import create_chapter
from federation.urls import Urls
from outbox.content import delete_item, publish_item
from outbox.items import Item
from storage import archives, hierarchy
from storage import inbox as inbox_store
from storage.database import Database
from storage.paging import Cursor
from tests.web.test_accounts import HTML, Site, make_site

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CHILD = "https://child.example/actors/galway"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


async def _publish(site: Site, handle: str, item: Item, published: datetime) -> str:
    iri = await publish_item(site.db, Urls(site.config.base_url), handle, item)
    await site.sql("UPDATE items SET published = ? WHERE object_iri = ?", published, iri)
    return iri


async def _relay(site: Site, number: int, published: datetime) -> str:
    iri = f"https://child.example/objects/{number}"
    document = {"id": iri, "type": "Article", "attributedTo": CHILD,
                "name": f"Galway minutes {number}", "content": "<p>Relayed.</p>",
                "meetingDate": "2024-12-01", "to": [PUBLIC], "published": published.isoformat()}
    ((chapter,),) = await site.sql("SELECT id FROM actors WHERE handle = 'dublin'")
    async with site.db.transaction() as tx:
        await inbox_store.store_remote_object(tx, inbox_store.RemoteObjectVersion(
            iri=iri, type="Article", attributed_to=CHILD, content="<p>Relayed.</p>",
            summary=None, in_reply_to=None, published=published, updated=None,
            meeting_date="2024-12-01", document=document), [int(chapter)])
    ((object_id,),) = await site.sql("SELECT id FROM remote_objects WHERE iri = ?", iri)
    return f"/remote/{object_id}"


async def _page(site: Site, path: str, status: int = 200) -> str:
    response = await site.client.get(path, headers=HTML)
    text = await response.text()
    assert response.status == status, text
    return text


def _titles(page: str) -> list[str]:
    return re.findall(r'<a class="title" href="([^"]+)">', page)


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return found[1].replace("&amp;", "&") if found else None


async def _walk(site: Site, path: str) -> tuple[list[list[str]], list[list[str]]]:
    """Every page from the first by Older links, then back by Newer links."""
    forward: list[list[str]] = []
    page = await _page(site, path)
    assert _link(page, "prev") is None
    while True:
        forward.append(_titles(page))
        older = _link(page, "next")
        if older is None:
            break
        page = await _page(site, older)
    backward = [_titles(page)]
    while (newer := _link(page, "prev")) is not None:
        page = await _page(site, newer)
        backward.append(_titles(page))
    return forward, backward[::-1]


async def test_a_chapter_s_news_pages_back_20_at_a_time(site: Site) -> None:
    news = [await _publish(site, "dublin", Item(kind="news", title=f"News {n}"),
                           T0 + timedelta(hours=n)) for n in range(45)]
    # Several at the same moment: the id orders them, the same way on every page.
    for iri in news[10:16]:
        await site.sql("UPDATE items SET published = ? WHERE object_iri = ?", T0, iri)
    deleted = await publish_item(site.db, Urls(site.config.base_url), "dublin",
                                 Item(kind="news", title="Withdrawn"))
    await delete_item(site.db, Urls(site.config.base_url), deleted)
    await _publish(site, "dublin", Item(kind="blog", title="A blog post"), T0)

    forward, backward = await _walk(site, "/@dublin/news")
    assert [len(page) for page in forward] == [20, 20, 5]
    assert backward == forward
    listed = [iri for page in forward for iri in page]
    assert len(set(listed)) == 45 and set(listed) == set(news)
    expected = sorted(news, key=lambda iri: (
        T0 if iri in news[10:16] else T0 + timedelta(hours=news.index(iri)), iri), reverse=True)
    assert listed == expected
    # The node's archive lists the same news.
    node_forward, _ = await _walk(site, "/news")
    assert [iri for page in node_forward for iri in page] == expected


async def test_minutes_merge_the_node_s_own_climbed_and_relayed_in_one_order(
        site: Site) -> None:
    await create_chapter(site.db, "node.test", "kildare", "IOPS Kildare", "local")
    ((dublin,), (kildare,)) = await site.sql(
        "SELECT id FROM actors WHERE handle IN ('dublin', 'kildare') ORDER BY handle")
    at_hour: dict[str, datetime] = {}
    for n in range(25):
        moment = T0 + timedelta(hours=3 * n)
        at_hour[await _publish(site, "dublin", Item(
            kind="minutes", title=f"Dublin minutes {n}", meeting_date="2024-12-01"),
            moment)] = moment
        at_hour[await _relay(site, n, moment + timedelta(hours=1))] = moment + timedelta(hours=1)
    for n in range(8):
        moment = T0 + timedelta(hours=3 * n + 2)
        iri = await _publish(site, "kildare", Item(
            kind="minutes", title=f"Kildare minutes {n}", meeting_date="2024-12-01"), moment)
        async with site.db.transaction() as tx:
            await hierarchy.reached(tx, iri, dublin, kildare)
        at_hour[iri] = moment
    # Not minutes, and not Dublin's: neither is listed.
    await _publish(site, "dublin", Item(kind="news", title="News"), T0)

    forward, backward = await _walk(site, "/@dublin/minutes")
    assert [len(page) for page in forward] == [20, 20, 18]
    assert backward == forward
    listed = [iri for page in forward for iri in page]
    assert listed == sorted(at_hour, key=lambda iri: at_hour[iri], reverse=True)
    page = await _page(site, "/@dublin/minutes")
    assert "via IOPS Kildare" not in page  # the author passed them on itself
    node_forward, _ = await _walk(site, "/minutes")
    assert [iri for page in node_forward for iri in page] == listed


async def test_past_events_polls_and_blogs_have_archives(site: Site) -> None:
    past = await _publish(site, "dublin", Item(
        kind="event", title="Winter social 2020", starts_at="2020-01-10T19:00",
        timezone="Europe/Dublin", place_name="The Cobblestone"), T0)
    future = await _publish(site, "dublin", Item(
        kind="event", title="Bookfair 2030", starts_at="2030-09-12T14:00",
        timezone="Europe/Dublin", place_name="Teachers' Club"), T0)
    poll = await _publish(site, "dublin", Item(
        kind="poll", title="Meet on Tuesdays?", options=["Yes", "No"],
        closes_at="2030-06-01T18:00:00+00:00"), T0)
    blog = await _publish(site, "ana", Item(kind="blog", title="Ana's thoughts"), T0)
    assert _titles(await _page(site, "/events/past")) == [past]
    chapter_events = await _page(site, "/@dublin/events")
    assert _titles(chapter_events) == [future, past]  # upcoming first, then the past
    assert "The Cobblestone" in chapter_events and "(Europe/Dublin)" in chapter_events
    assert _titles(await _page(site, "/polls")) == [poll]
    assert _titles(await _page(site, "/@dublin/polls")) == [poll]
    assert _titles(await _page(site, "/blogs")) == [blog]
    assert _titles(await _page(site, "/@dublin/blogs")) == []


async def test_a_cursor_we_did_not_make_is_a_400_page_and_a_chapter_we_lack_a_404(
        site: Site) -> None:
    for path in ("/news?cursor=nonsense", "/@dublin/minutes?cursor=WyJuIixbMSwyXV0",
                 "/events/past?cursor=" + "A" * 500, "/@dublin/events?cursor=e30"):
        page = await _page(site, path, 400)
        assert "not one this site made" in page and "<nav" in page
    await _page(site, "/@nobody/news", 404)
    await _page(site, "/@ana/news", 404)  # a member, not a chapter


async def test_home_and_chapter_pages_link_to_their_archives(site: Site) -> None:
    home = await _page(site, "/")
    for path in ("/news", "/blogs", "/minutes", "/polls", "/events/past"):
        assert f'href="{path}"' in home
    chapter = await _page(site, "/@dublin")
    for path in ("news", "blogs", "minutes", "polls", "events"):
        assert f'href="/@dublin/{path}"' in chapter


@pytest.mark.parametrize("kind", ["news", "minutes", "event"])
async def test_a_page_is_read_from_an_index_without_sorting_the_section(
        site: Site, kind: str) -> None:
    db: Database = site.db
    ((dublin,),) = await site.sql("SELECT id FROM actors WHERE handle = 'dublin'")
    cursor = Cursor((T0, "https://node.test/objects/x"), True)
    for chapter in (None, int(dublin)):
        for plan in await archives.query_plans(db, kind, chapter, T0, cursor):
            if db.engine == "sqlite":
                assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
                assert "TEMP B-TREE FOR ORDER BY" not in plan or "passed_up" in plan, plan


async def test_a_list_shows_the_words_of_a_markdown_body_not_its_marks(site: Site) -> None:
    await _publish(site, "dublin", Item(
        kind="news", title="Bookfair report",
        body="## How it went\n\nIt brought **new readers** and [tea](https://tea.example)."),
        T0)
    page = await _page(site, "/@dublin/news")
    summary = re.search(r'<p class="summary">([^<]*)</p>', page)
    assert summary is not None
    assert summary[1] == "How it went It brought new readers and tea."
