"""The Welcome: a member who joined lands on it at their first login, once; it greets
them by name, lists their chapters and says what they can do; it stays at /welcome."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from actors.registry import create_chapter
from storage import accounts as account_store
from storage import joins as join_store
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, log_in, make_site, post, token_in
from tests.web.test_join import NEW_PASSWORD, ask


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin (ana organises it; joining waits for approval) and cork (open to all)."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    await create_chapter(made.db, made.config.hostname, "cork", "IOPS Cork", "local")
    await join_store.set_joins_open(made.db, "cork", True)
    await account_store.add_organiser(
        made.db, await account_store.chapter_id(made.db, "dublin") or 0,
        await account_store.member_id(made.db, "ana") or 0, now())
    return made


async def approve_cara(site: Site) -> None:
    """cara asks to join dublin; ana approves; ana logs out."""
    assert (await ask(site, "dublin", email="-")).status == 200
    await log_in(site)
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    ((request_id,),) = await site.sql("SELECT id FROM join_requests")
    assert (await post(site, f"/@dublin/requests/{request_id}/approve",
                       {"csrf_token": token_in(page)})).status == 303
    assert (await post(site, "/logout", {"csrf_token": token_in(page)})).status == 303


async def test_the_first_login_after_approval_lands_on_the_welcome_once(site: Site) -> None:
    await approve_cara(site)
    response = await log_in(site, "cara", NEW_PASSWORD, next_path="/@dublin/members")
    assert response.status == 303
    assert response.headers["Location"] == "/welcome?next=/%40dublin/members"

    response = await site.client.get(response.headers["Location"], headers=HTML)
    assert response.status == 200
    page = await response.text()
    assert "Welcome, Cara Nic Dhomhnaill!" in page
    main = page.split("<main>")[1]
    assert '<a href="/@dublin"><strong>IOPS Dublin</strong></a>' in main
    for link in ('href="/account/profile"', 'href="/account/profile#avatar-field"',
                 'href="/@cara/write"', 'href="/account/password"'):
        assert link in main, link
    assert "vote" in main and "events" in main
    # On to where the login was going.
    assert 'href="/@dublin/members"' in main

    # The next login goes where `next` says, as every login did before.
    await post(site, "/logout", {"csrf_token": token_in(page)})
    response = await log_in(site, "cara", NEW_PASSWORD, next_path="/@dublin")
    assert response.status == 303 and response.headers["Location"] == "/@dublin"
    # The page is still there to come back to.
    again = await site.client.get("/welcome", headers=HTML)
    assert again.status == 200 and "Welcome, Cara" in await again.text()


async def test_joining_an_open_chapter_welcomes_at_once_and_leads_on(site: Site) -> None:
    response = await ask(site, "cork", email="-")
    assert response.status == 303
    assert response.headers["Location"] == "/welcome?next=/%40cork"
    page = await (await site.client.get(response.headers["Location"], headers=HTML)).text()
    assert "Welcome, Cara Nic Dhomhnaill!" in page
    assert re.search(r'href="/(@|%40)cork">[^<]*Continue', page)
    # Logged in already: no second Welcome at the next login.
    await post(site, "/logout", {"csrf_token": token_in(page)})
    response = await log_in(site, "cara", NEW_PASSWORD, next_path="/@cork")
    assert response.headers["Location"] == "/@cork"


async def test_of_two_browsers_only_the_first_to_log_in_is_welcomed(site: Site) -> None:
    await approve_cara(site)
    other = await site.another_browser()
    try:
        first = await log_in(site, "cara", NEW_PASSWORD)
        second = await log_in(site, "cara", NEW_PASSWORD, client=other)
        assert sorted([first.headers["Location"], second.headers["Location"]]) == [
            "/", "/welcome"]
    finally:
        await other.close()


async def test_accounts_made_from_the_shell_log_in_as_before(site: Site) -> None:
    response = await log_in(site, next_path="/@dublin")  # ana, made by `account create`
    assert response.headers["Location"] == "/@dublin"


async def test_a_visitor_is_sent_to_log_in(site: Site) -> None:
    response = await site.client.get("/welcome", headers=HTML, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/welcome"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
async def test_the_way_on_stays_on_this_node(site: Site, target: str) -> None:
    await log_in(site)
    page = await (await site.client.get(f"/welcome?next={target}", headers=HTML)).text()
    # The only mention left is inside this page's own address, which the language
    # switcher carries back to (as a value, URL-encoded, never as a link's target).
    assert "evil.example" not in page.replace(
        f'name="next" value="/welcome?next={target}"', "")


async def test_the_welcome_lists_every_chapter_of_the_member(site: Site) -> None:
    await approve_cara(site)
    cara = await account_store.member_id(site.db, "cara") or 0
    cork = await account_store.chapter_id(site.db, "cork") or 0
    async with site.db.transaction() as tx:
        await tx.execute("INSERT INTO memberships (member_id, chapter_id, joined_at)"
                         " VALUES (?, ?, ?)", (cara, cork, now()))
    await log_in(site, "cara", NEW_PASSWORD)
    page = await (await site.client.get("/welcome", headers=HTML)).text()
    main = page.split("<main>")[1]
    assert "IOPS Dublin" in main and "IOPS Cork" in main

