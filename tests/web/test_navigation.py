"""The site's navigation as a visitor and a member meet it on every page: the sections
(home, chapters, events, news, blogs, minutes, polls), join and log in or the member's
own links, a search box, the section the page is in marked; error pages keep it all."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_accounts import HTML, Site, log_in, make_site

SECTIONS = [("/", "Home"), ("/chapters", "Chapters"), ("/events", "Events"),
            ("/news", "News"), ("/blogs", "Blogs"), ("/minutes", "Minutes"),
            ("/polls", "Polls"), ("/projects", "Projects")]


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


def navigation(page: str) -> str:
    match = re.search(r'<nav class="sections".*?</nav>', page, re.S)
    assert match, "the page has no navigation"
    return match[0]


def current(page: str) -> list[str]:
    """The links marked as the page the visitor is on."""
    return re.findall(r'<a (?:class="[^"]*" )?href="([^"]*)" aria-current="page"', page)


async def get(site: Site, path: str) -> tuple[int, str]:
    response = await site.client.get(path, headers=HTML)
    return response.status, await response.text()


@pytest.mark.parametrize(("path", "status", "marked"), [
    ("/", 200, ["/"]),
    ("/chapters", 200, ["/chapters"]),
    ("/chapters?level=local&place=Dublin", 200, ["/chapters"]),
    ("/events", 200, ["/events"]),
    ("/@dublin", 200, []),
    ("/@dublin/members", 200, []),
    ("/join", 200, ["/join"]),
    ("/login", 200, ["/login"]),
    ("/no/such/page", 404, []),
    ("/chapters?level=planetary", 400, ["/chapters"]),
])
async def test_every_page_has_the_sections_and_marks_the_one_it_is_in(
        site: Site, path: str, status: int, marked: list[str]) -> None:
    found, page = await get(site, path)
    assert found == status
    nav = navigation(page)
    links = re.findall(r'<li><a href="([^"]*)"(?: aria-current="page")?>([^<]*)</a></li>', nav)
    assert links == SECTIONS
    assert current(page) == marked
    # The search box sends `q` to /search, labelled for a screen reader.
    assert '<form class="search" role="search" aria-label="Search the site" method="get"' \
        ' action="/search">' in nav
    assert re.search(r'<label class="visually-hidden" for="site-search-q">', nav)
    assert '<input type="search" id="site-search-q" name="q"' in nav
    # A visitor can always join and log in.
    assert re.search(r'<a class="join" href="/join"', page)
    assert re.search(r'<a class="login" href="/login', page)
    assert '<link rel="alternate" type="text/calendar" href="/events.ics"' in page


async def test_a_member_sees_their_own_links_beside_the_sections(site: Site) -> None:
    response = await log_in(site)
    assert response.status == 303
    status, page = await get(site, "/events")
    assert status == 200
    assert 'class="me" href="/@ana">Ana Byrne</a>' in page
    assert 'action="/logout"' in page
    assert 'class="login"' not in page
    assert current(page) == ["/events"]
    assert len(re.findall(r"<li><a href=", navigation(page))) == len(SECTIONS)


async def test_the_search_page_has_its_own_box_and_not_the_headers_too(site: Site) -> None:
    status, page = await get(site, "/search?q=bookfair")
    assert status == 200
    nav = navigation(page)
    assert 'id="site-search-q"' not in nav and 'action="/search"' in page
    assert len(re.findall(r"<li><a href=", nav)) == len(SECTIONS)
