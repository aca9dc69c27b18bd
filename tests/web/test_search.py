"""Search as a visitor uses it: the search box, results ranked with the chapter, kind,
date and a snippet whose matched words are highlighted and everything else escaped (even
text that says "<mark>"), relayed minutes found by a word in them, any text typed is a
page and never a 500, more results a page further, a bad cursor a 400 page."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from federation.urls import Urls
from outbox.content import publish_item
from outbox.items import Item
from storage import inbox as inbox_store
from storage.search_text import START, STOP
from tests.web.test_accounts import HTML, Site, make_site

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CHILD = "https://child.example/actors/galway"


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


async def _get(site: Site, path: str, status: int = 200) -> str:
    response = await site.client.get(path, headers=HTML)
    text = await response.text()
    assert response.status == status, text
    return text


def _results(page: str) -> list[str]:
    return re.findall(r'<a class="title" href="([^"]+)">', page)


async def test_a_visitor_finds_items_and_relayed_minutes_with_the_words_marked(
        site: Site) -> None:
    urls = Urls(site.config.base_url)
    news = await publish_item(site.db, urls, "dublin", Item(
        kind="news", title="Housing action day",
        body="Join the housing action day in Smithfield."))
    ((dublin,),) = await site.sql("SELECT id FROM actors WHERE handle = 'dublin'")
    document: dict[str, Any] = {"id": "https://child.example/objects/1", "type": "Article",
                "attributedTo": CHILD, "name": "Galway minutes, November",
                "content": "<p>Agreed to support the <em>housing</em> campaign.</p>",
                "meetingDate": "2026-11-20", "to": [PUBLIC]}
    async with site.db.transaction() as tx:
        await inbox_store.store_remote_object(tx, inbox_store.RemoteObjectVersion(
            iri=document["id"], type="Article", attributed_to=CHILD,
            content=document["content"], summary=None, in_reply_to=None,
            published=datetime(2026, 11, 21, tzinfo=UTC), updated=None,
            meeting_date="2026-11-20", document=document), [int(dublin)])

    form = await _get(site, "/search")
    assert '<label for="search-q">' in form and 'id="search-q"' in form
    assert "Results for" not in form

    page = await _get(site, "/search?q=housing")
    found = _results(page)
    assert found[0] == news and len(found) == 2 and found[1].startswith("/remote/")
    assert "<mark>Housing</mark> action day" in page
    assert "support the <mark>housing</mark> campaign" in page
    assert "<em>" not in page.split('class="results"')[1]
    assert 'href="/@dublin">IOPS Dublin</a>' in page and "Minutes" in page
    # The relayed page is there for a visitor.
    assert (await site.client.get(found[1], headers=HTML)).status == 200

    # A word of the minutes alone finds them.
    assert _results(await _get(site, "/search?q=campaign")) == [found[1]]


async def test_text_that_looks_like_markup_or_markers_stays_text(site: Site) -> None:
    await publish_item(site.db, Urls(site.config.base_url), "dublin", Item(
        kind="news", title=f"<mark>Sneaky</mark> <script>alert(1)</script> {START}x{STOP}",
        body=f"Sneaky <b>bold</b> </mark><img src=x onerror=alert(1)> {START}y{STOP}"))
    page = await _get(site, "/search?q=sneaky")
    results = page.split('class="results"')[1]
    assert "<script>" not in results and "<img" not in results and "<b>" not in results
    assert "&lt;mark&gt;<mark>Sneaky</mark>&lt;/mark&gt;" in results
    assert "&lt;script&gt;" in results and "&lt;img src=x" in results
    assert START not in results and STOP not in results
    # Every <mark> is one the search made, closed.
    assert results.count("<mark>") == results.count("</mark>") == 2


@pytest.mark.parametrize("query", [
    '"', '"open', "AND", "OR trap", "NOT", "-", "*", "a*", "NEAR(a b)", "title:a", "^a",
    "(", ")", "'", "\\", "&|!:", "{}", "+", "%", "%00", "%FF", "é", "中文", "<mark>",
    "x" * 5000, "a -", "-a", '""""'])
async def test_any_query_is_a_page(site: Site, query: str) -> None:
    page = await _get(site, "/search?q=" + quote(query, safe="%"))
    assert "Search" in page


async def test_many_results_have_a_more_link_and_a_bad_cursor_is_a_400(site: Site) -> None:
    urls = Urls(site.config.base_url)
    made = {await publish_item(site.db, urls, "dublin", Item(
        kind="news", title=f"Assembly {n}", body="general assembly")) for n in range(27)}
    first = await _get(site, "/search?q=assembly")
    more = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert more and len(_results(first)) == 20
    second = await _get(site, html.unescape(more[1]))
    assert len(_results(second)) == 7 and 'rel="next"' not in second
    assert set(_results(first) + _results(second)) == made
    back = re.search(r'<a href="([^"]+)" rel="prev">', second)
    assert back and _results(await _get(site, html.unescape(back[1]))) == _results(first)
    page = await _get(site, "/search?q=assembly&cursor=nonsense", 400)
    assert "not one this site made" in page


async def test_nothing_found_says_so(site: Site) -> None:
    page = await _get(site, "/search?q=zebra")
    assert "Nothing found" in page and _results(page) == []
