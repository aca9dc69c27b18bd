"""Which language a page is in, as a reader sees it: their account's choice, else the
switcher's cookie, else their browser's Accept-Language, else the node's `[node]
language`; each request its own, even many at the same moment; and the member's time zone
for moments on pages.

Words are checked against the catalogue (`web.i18n.language("eo")`), so that a test that
needs an Esperanto word says so when the word is not translated yet instead of passing on
English; dates are checked against CLDR (Babel), which needs no catalogue.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from babel.dates import format_time

from chapterhouse.config import parse, render_initial
from federation.urls import Urls
from outbox.content import publish_item
from outbox.items import Item
from storage import chapter_settings as chapter_settings_store
from tests.web.test_accounts import HTML, Site, log_in, make_site, post, token_in
from web import i18n

EVENT_START = datetime(2030, 9, 12, 14, 0, tzinfo=ZoneInfo("Europe/Dublin"))


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin with ana (an account) and an event on 12 September 2030."""
    site = await make_site(tmp_path, store_location, aiohttp_client)
    await publish_item(site.db, Urls(site.config.base_url), "dublin", Item(
        kind="event", title="Autumn bookfair", starts_at="2030-09-12T14:00",
        ends_at="2030-09-12T17:30", timezone="Europe/Dublin", place_name="Teachers' Club"))
    return site


def lang_of(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match, "the page has no <html lang>"
    return match[1]


def eo_word(text: str) -> str:
    """`text` in Esperanto, as the catalogue has it; fails while it has no translation."""
    worded = i18n.language("eo").gettext(text)
    assert worded != text, f"{text!r} has no Esperanto translation yet (the catalogue's)"
    return worded


def event_day(code: str) -> str:
    """The event's day as a page in `code` writes it (CLDR's full date, the event's zone;
    Esperanto's month in small letters)."""
    with i18n.speaking(code):
        return i18n.day(EVENT_START)


async def page_of(client: TestClient[Any, Any], path: str = "/",
                  headers: dict[str, str] | None = None) -> str:
    response = await client.get(path, headers=HTML | (headers or {}))
    assert response.status == 200, (path, response.status)
    return await response.text()


async def account_language(site: Site, handle: str = "ana") -> str | None:
    [(language,)] = await site.sql(
        "SELECT a.language FROM accounts a JOIN actors m ON m.id = a.member_id"
        " WHERE m.handle = ?", handle)
    return str(language) if language is not None else None


async def test_accept_language_picks_esperanto(site: Site) -> None:
    page = await page_of(site.client, "/events", {"Accept-Language": "eo,en;q=0.5"})
    assert lang_of(page) == "eo"
    assert event_day("eo") in page
    assert event_day("en") not in page
    # Its q-values decide, not the order; a language we do not have is passed over.
    page = await page_of(site.client, "/events", {"Accept-Language": "de, en;q=0.4, eo;q=0.8"})
    assert lang_of(page) == "eo"
    page = await page_of(site.client, "/events", {"Accept-Language": "de, fr;q=0.9"})
    assert lang_of(page) == "en" and event_day("en") in page
    # And the words are the catalogue's.
    page = await page_of(site.client, "/", {"Accept-Language": "eo"})
    assert f">{eo_word('Chapters')}</a>" in page


async def test_the_switcher_s_cookie_beats_accept_language(site: Site) -> None:
    response = await site.client.get("/language/eo?next=/events", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/events"
    cookie = response.cookies[i18n.COOKIE]
    assert cookie.value == "eo" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == i18n.COOKIE_DAYS * 86400
    page = await page_of(site.client, "/events", {"Accept-Language": "en"})
    assert lang_of(page) == "eo" and event_day("eo") in page
    # The switcher back: a link on every page, to English.
    assert 'href="/language/en?next=/events"' in page
    await site.client.get("/language/en?next=/events")
    page = await page_of(site.client, "/events", {"Accept-Language": "eo"})
    assert lang_of(page) == "en" and event_day("en") in page


async def test_a_member_s_account_language_beats_the_cookie_and_is_saved_by_the_switcher(
    site: Site
) -> None:
    assert (await log_in(site)).status == 303
    assert await account_language(site) is None
    page = await page_of(site.client, "/events")
    assert lang_of(page) == "en"
    # A member's switcher is a form (their account remembers it), with the session's token.
    assert 'action="/language"' in page and 'name="lang" value="eo"' in page
    response = await post(site, "/language",
                          {"csrf_token": token_in(page), "lang": "eo", "next": "/events"})
    assert response.status == 303 and response.headers["Location"] == "/events"
    assert await account_language(site) == "eo"
    # The account outranks the browser: a cookie and Accept-Language both saying English.
    site.client.session.cookie_jar.update_cookies({i18n.COOKIE: "en"})
    page = await page_of(site.client, "/events", {"Accept-Language": "en"})
    assert lang_of(page) == "eo" and event_day("eo") in page
    # Another browser, where ana logs in with nothing chosen there: still Esperanto.
    browser = await site.another_browser()
    try:
        await log_in(site, client=browser)
        page = await page_of(browser, "/events", {"Accept-Language": "en"})
        assert lang_of(page) == "eo"
    finally:
        await browser.session.close()  # its cookies only: the server is shared
    # Without the form's token nothing changes.
    response = await post(site, "/language", {"lang": "en", "next": "/"})
    assert response.status == 403
    assert await account_language(site) == "eo"


async def test_a_language_chosen_before_logging_in_becomes_the_account_s(site: Site) -> None:
    await site.client.get("/language/eo?next=/")
    await log_in(site)
    assert await account_language(site) == "eo"
    # ... unless the account had chosen one already: that stays.
    await site.sql("UPDATE accounts SET language = 'en'")
    browser = await site.another_browser()
    try:
        await browser.get("/language/eo?next=/")
        await log_in(site, client=browser)
        assert await account_language(site) == "en"
        assert lang_of(await page_of(browser, "/")) == "en"
    finally:
        await browser.session.close()  # its cookies only: the server is shared


@pytest.mark.parametrize("target", [
    "//evil.example/", "/\\evil.example", "https://evil.example/", "evil.example",
    "/\r\nSet-Cookie: x=1", "", "/\t/evil.example", "/\x0b/evil.example",
])
async def test_the_switcher_stays_on_the_site(site: Site, target: str) -> None:
    response = await site.client.get("/language/eo", params={"next": target},
                                     allow_redirects=False)
    assert response.status == 303
    # Anywhere but a path of this site (or nothing said): the home page, the cookie set.
    assert response.headers["Location"] == "/"
    assert response.cookies[i18n.COOKIE].value == "eo"


async def test_an_unknown_language_is_a_404_page_that_sets_nothing(site: Site) -> None:
    response = await site.client.get("/language/de?next=/", headers=HTML,
                                      allow_redirects=False)
    assert response.status == 404
    assert i18n.COOKIE not in response.cookies
    page = await response.text()
    assert "<html lang=" in page  # the site's error page, in the site's language
    assert "This site is not translated into that language." in page
    response = await site.client.get("/language/de?next=/", allow_redirects=False,
                                     headers=HTML | {"Accept-Language": "eo"})
    assert eo_word("This site is not translated into that language.") in \
        await response.text()
    # A member's form with a language we do not have: 400, the account unchanged.
    await log_in(site)
    token = token_in(await page_of(site.client, "/"))
    response = await post(site, "/language", {"csrf_token": token, "lang": "de"})
    assert response.status == 400
    assert await account_language(site) is None


async def test_html_pages_vary_on_cookie_and_accept_language(site: Site) -> None:
    for path, status in (("/", 200), ("/events", 200), ("/@dublin", 200), ("/login", 200),
                         ("/nowhere-at-all", 404)):
        response = await site.client.get(path, headers=HTML)
        assert response.status == status, path
        vary = {part.strip().lower() for part in response.headers.get("Vary", "").split(",")}
        assert {"cookie", "accept-language"} <= vary, (path, response.headers.get("Vary"))


async def test_the_node_s_language_is_used_when_nothing_else_says(
    tmp_path: Path, store_location: Path | str, aiohttp_client: Any
) -> None:
    site = await make_site(tmp_path, store_location, aiohttp_client)
    raw = tomllib.loads(render_initial("node.test", "http", "Test node"))
    raw["storage"]["url"] = str(store_location)
    raw["node"]["language"] = "eo"
    from chapterhouse.app import create_app

    client = await aiohttp_client(create_app(parse(raw, tmp_path), deliver=False))
    page = await page_of(client, "/")
    assert lang_of(page) == "eo"
    # A browser that names one of ours still has it; one that names none gets eo.
    assert lang_of(await page_of(client, "/", {"Accept-Language": "en-GB"})) == "en"
    assert lang_of(await page_of(client, "/", {"Accept-Language": "fr, de"})) == "eo"
    # The node configured in English (make_site's) answers the same bare request in English.
    assert lang_of(await page_of(site.client, "/")) == "en"


async def test_many_requests_at_the_same_moment_each_get_their_own_language(
    site: Site
) -> None:
    codes = ["eo" if n % 2 else "en" for n in range(40)]

    async def fetch(code: str) -> tuple[str, str]:
        response = await site.client.get("/events", headers=HTML | {
            "Cookie": f"{i18n.COOKIE}={code}"})
        assert response.status == 200
        return code, await response.text()

    for code, page in await asyncio.gather(*(fetch(code) for code in codes)):
        other = "en" if code == "eo" else "eo"
        assert lang_of(page) == code
        assert event_day(code) in page and event_day(other) not in page, code
    # Words too, once the catalogue has them.
    pages = await asyncio.gather(*(fetch(code) for code in codes))
    chapters = {"en": ">Chapters</a>", "eo": f">{eo_word('Chapters')}</a>"}
    for code, page in pages:
        assert chapters[code] in page, code


async def test_reading_settings_save_language_and_zone_and_moments_follow_the_zone(
    site: Site
) -> None:
    await log_in(site)
    # A token made at a known moment: the tokens page shows when, in the reader's zone.
    page = await page_of(site.client, "/account/tokens")
    response = await post(site, "/account/tokens",
                          {"csrf_token": token_in(page), "name": "minutes script"})
    assert response.status in (200, 303)
    made = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    await site.sql("UPDATE access_tokens SET created_at = ?", made)
    page = await page_of(site.client, "/account/tokens")
    assert "27 November 2026" in page and "23:30" in page

    page = await page_of(site.client, "/account/reading")
    response = await post(site, "/account/reading", {
        "csrf_token": token_in(page), "language": "eo", "time_zone": "Pacific/Auckland"})
    assert response.status == 303
    assert response.headers["Location"] == "/account/reading?saved=1"
    [(language, zone)] = await site.sql("SELECT language, time_zone FROM accounts"
                                        " WHERE language IS NOT NULL")
    assert (language, zone) == ("eo", "Pacific/Auckland")
    page = await page_of(site.client, "/account/reading?saved=1")
    assert lang_of(page) == "eo"
    assert '<option value="Pacific/Auckland" selected>' in page

    local = made.astimezone(ZoneInfo("Pacific/Auckland"))  # 28 November, 12:30
    eo = i18n.language("eo").locale
    page = await page_of(site.client, "/account/tokens")
    with i18n.speaking("eo"):
        assert i18n.human_date(local.date()) in page, "the day in Auckland, in eo"
    assert format_time(local, "short", tzinfo=local.tzinfo, locale=eo) in page
    assert "23:30 UTC" not in page and "27 November 2026" not in page
    # Events keep their own zone whatever the reader's.
    page = await page_of(site.client, "/events")
    assert event_day("eo") in page and "14:00" in page


async def test_a_bad_time_zone_is_refused_next_to_its_field(site: Site) -> None:
    await log_in(site)
    page = await page_of(site.client, "/account/reading")
    response = await post(site, "/account/reading", {
        "csrf_token": token_in(page), "language": "eo", "time_zone": "Mars/Olympus_Mons"})
    assert response.status == 400
    page = await response.text()
    error = re.search(r'<p class="error" id="time_zone-error">([^<]+)</p>', page)
    assert error, "no error next to the time zone field"
    assert error[1] == "Choose one of the time zones offered."
    assert 'aria-describedby="time_zone-hint time_zone-error"' in page
    [(language, zone)] = await site.sql(
        "SELECT language, time_zone FROM accounts a JOIN actors m ON m.id = a.member_id"
        " WHERE m.handle = 'ana'")
    assert (language, zone) == (None, None)
    # A language we do not have, likewise, next to its own field.
    response = await post(site, "/account/reading", {
        "csrf_token": token_in(page), "language": "de", "time_zone": ""})
    assert response.status == 400
    assert 'id="language-error"' in await response.text()


async def test_the_chapter_tree_is_drawn_in_each_reader_s_language(site: Site) -> None:
    # /chapters keeps its drawn tree while nothing changes: one per language, not the
    # first reader's for everyone.
    founded = datetime(2012, 11, 20, tzinfo=UTC)
    [(dublin,)] = await site.sql("SELECT id FROM actors WHERE handle = 'dublin'")
    async with site.db.transaction() as tx:
        await chapter_settings_store.set_founded(tx, int(dublin), founded)
    for code in ("en", "eo", "en", "eo"):
        page = await page_of(site.client, "/chapters", {"Cookie": f"{i18n.COOKIE}={code}"})
        with i18n.speaking(code):
            day = i18n.calendar_day(founded)
        assert lang_of(page) == code and day in page, (code, day)
        assert i18n.language(code).gettext("Local chapter") in page, code


async def test_feeds_are_written_in_each_reader_s_language(site: Site) -> None:
    # The Atom feed is kept while nothing changes, like /chapters: one per language.
    await publish_item(site.db, Urls(site.config.base_url), "dublin", Item(
        kind="minutes", title="Minutes", meeting_date="2026-08-25", body="Present: seven."))
    for code in ("eo", "en", "eo"):
        feed = await (await site.client.get(
            "/actors/dublin/feed.atom", headers={"Cookie": f"{i18n.COOKIE}={code}"})).text()
        with i18n.speaking(code):
            day = i18n.human_date(date(2026, 8, 25))
        assert day in feed, (code, day)


async def test_reading_settings_are_for_members(site: Site) -> None:
    response = await site.client.get("/account/reading", headers=HTML, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=/account/reading")
