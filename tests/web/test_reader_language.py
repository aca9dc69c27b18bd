"""The language chosen before logging in becomes the account's, unless the account has
one: what a member sees after logging in on another browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_accounts import HTML, Site, log_in, make_site, post, token_in
from web import i18n


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


async def page_language(client: Any, path: str = "/") -> str:
    page = await (await client.get(path, headers=HTML)).text()
    match = re.search(r'<html lang="([a-z]+)">', page)
    assert match, page[:200]
    return match[1]


async def test_a_visitors_choice_is_kept_by_the_account_they_log_in_to(site: Site) -> None:
    switched = await site.client.get("/language/eo?next=/chapters", allow_redirects=False)
    assert switched.status == 303 and switched.headers["Location"] == "/chapters"
    assert await page_language(site.client) == "eo"
    await log_in(site)
    assert await site.sql("SELECT language FROM accounts a JOIN actors m ON m.id = a.member_id"
                          " WHERE m.handle = 'ana'") == [("eo",)]

    elsewhere = await site.another_browser()  # no cookie, a browser asking for English
    await log_in(site, client=elsewhere)
    assert await page_language(elsewhere) == "eo"
    third = await site.another_browser()  # a visitor there is not affected
    assert await page_language(third) == "en"


async def test_an_account_that_chose_keeps_its_choice(site: Site) -> None:
    await log_in(site)
    page = await (await site.client.get("/", headers=HTML)).text()
    response = await post(site, "/language", {"csrf_token": token_in(page), "lang": "en",
                                               "next": "/"})
    assert response.status == 303
    other = await site.another_browser()
    await other.get("/language/eo", allow_redirects=False)
    await log_in(site, client=other)
    # The account said English: the switcher's cookie on this browser does not overrule it.
    assert await page_language(other) == "en"
    assert await site.sql("SELECT language FROM accounts a JOIN actors m ON m.id = a.member_id"
                          " WHERE m.handle = 'ana'") == [("en",)]


async def test_the_catalogue_is_read_from_its_po_file() -> None:
    # No build step: the .po under version control is what a fresh clone serves.
    assert i18n.translations("eo").ugettext("Log in") != "Log in"
