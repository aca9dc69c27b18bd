"""The organisers' workspace on one node: the landing page and what waits there, members
removed and organisers appointed, followers approved, a subchapter accepted, a parent
asked for and left; and nobody else getting in."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from actors.accounts import hash_password
from actors.registry import add_member, create_chapter
from federation.urls import Urls
from hierarchy import affiliation
from storage import accounts as account_store
from storage import hierarchy as hierarchy_store
from storage import inbox as inbox_store
from storage import joins as join_store
from storage import remote as remote_store
from storage.timestamps import now
from tests.web.test_accounts import HTML, PASSWORD, Site, form_token, log_in, make_site, post
from web import workspace as web_workspace

REMOTE = "https://elsewhere.example/users/rosa"
MEMBERS = ("SELECT a.handle FROM memberships m JOIN actors a ON a.id = m.member_id"
           " JOIN actors c ON c.id = m.chapter_id WHERE c.handle = 'dublin' ORDER BY a.handle")
ORGANISERS = ("SELECT a.handle FROM organisers o JOIN actors a ON a.id = o.member_id"
              " JOIN actors c ON c.id = o.chapter_id WHERE c.handle = ? ORDER BY a.handle")


async def account(site: Site, handle: str, chapter: str, organiser: bool = False) -> None:
    db = site.db
    member = await add_member(db, site.config.hostname, handle, chapter, handle.title())
    await account_store.create_account(db, member, await hash_password(PASSWORD), False, now())
    if organiser:
        chapter_id = await account_store.chapter_id(db, chapter)
        assert chapter_id is not None
        await account_store.add_organiser(db, chapter_id, member, now())


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin (local; ana and brian are members), leinster (regional), dara organising
    dublin and logged in; lorcan organising leinster."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    await create_chapter(made.db, made.config.hostname, "leinster", "IOPS Leinster",
                         "regional", "Leinster")
    await create_chapter(made.db, made.config.hostname, "cork", "IOPS Cork", "local")
    await account(made, "dara", "dublin", organiser=True)
    await account(made, "lorcan", "leinster", organiser=True)
    assert (await log_in(made, "dara")).status == 303
    return made


@pytest.fixture
async def lorcan(site: Site) -> AsyncIterator[TestClient[Any, Any]]:
    """leinster's organiser, logged in in a browser of their own (closed last: closing it
    stops the test server the site's browser shares)."""
    browser = await site.another_browser()
    assert (await log_in(site, "lorcan", client=browser)).status == 303
    yield browser
    await browser.close()


async def page(site: Site, path: str, status: int = 200) -> str:
    response = await site.client.get(path, headers=HTML, allow_redirects=False)
    assert response.status == status, await response.text()
    return await response.text()


async def send(site: Site, path: str, data: dict[str, str] | None = None,
               token_from: str | None = None) -> tuple[int, str, str]:
    token = await form_token(site.client, token_from or path)
    response = await post(site, path, {"csrf_token": token, **(data or {})})
    return response.status, response.headers.get("Location", ""), await response.text()


async def remote_follower_waiting(site: Site) -> None:
    """rosa, on another server, asked to follow dublin, which approves followers by hand."""
    await remote_store.save_actor(site.db, {
        "iri": REMOTE, "type": "Person", "host": "elsewhere.example",
        "inbox": f"{REMOTE}/inbox", "shared_inbox": None, "username": "rosa",
        "name": "Rosa Luxemburg"}, [], {"id": REMOTE, "type": "Person"})
    chapter_id = await account_store.chapter_id(site.db, "dublin")
    assert chapter_id is not None
    async with site.db.transaction() as tx:
        await inbox_store.add_follower(tx, chapter_id, REMOTE, f"{REMOTE}#follow-1", "requested")


async def test_the_landing_page_counts_what_waits_and_links_everything(site: Site) -> None:
    dublin = await account_store.chapter_id(site.db, "dublin")
    assert dublin is not None
    await join_store.add_request(site.db, dublin, "cara", "Cara", None, None, "", None, now())
    await remote_follower_waiting(site)
    chapter = await page(site, "/@dublin")
    assert '<a href="/@dublin/manage">Manage this chapter</a>' in chapter
    text = await page(site, "/@dublin/manage")
    # What waits stands out (class "some"); nothing waiting does not.
    assert re.search(r'href="/@dublin/requests">Requests to join</a>'
                     r' <span class="count some">1 waiting', text)
    assert re.search(r'href="/@dublin/followers">[^<]+</a> <span class="count some">1 waiting',
                     text)
    assert re.search(r'href="/@dublin/subchapters">[^<]+</a> <span class="count">0 waiting',
                     text)
    for kind in ("news", "blog", "minutes", "event", "poll", "note"):
        assert f'href="/@dublin/publish?kind={kind}"' in text
    for link in ("/@dublin/members/manage", "/@dublin/parent", "/@dublin/settings"):
        assert f'href="{link}"' in text


@pytest.mark.parametrize("path", ["manage", "members/manage", "followers", "subchapters",
                                  "parent", "settings", "members/ana/remove"])
async def test_only_organisers_get_in(site: Site, path: str) -> None:
    visitor = await site.another_browser()
    try:
        response = await visitor.get(f"/@dublin/{path}", headers=HTML, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == f"/login?next=/@dublin/{path.split('/ana')[0]}" \
            if "remove" not in path else "/login?next=/@dublin/members/manage"
        assert (await log_in(site, "lorcan", client=visitor)).status == 303  # leinster's
        response = await visitor.get(f"/@dublin/{path}", headers=HTML)
        assert response.status == 403
        assert "Only the organisers of IOPS Dublin manage it." in await response.text()
    finally:
        await visitor.close()


async def test_an_administrator_manages_any_chapter(site: Site) -> None:
    await account(site, "siobhan", "cork")
    member = await account_store.member_id(site.db, "siobhan")
    assert member is not None
    await account_store.set_admin(site.db, member, True)
    admin = await site.another_browser()
    try:
        assert (await log_in(site, "siobhan", client=admin)).status == 303
        response = await admin.get("/@dublin/manage", headers=HTML)
        assert response.status == 200
        assert "Manage IOPS Dublin" in await response.text()
    finally:
        await admin.close()


async def test_organisers_appoint_and_remove_and_the_last_one_stays(site: Site) -> None:
    text = await page(site, "/@dublin/members/manage")
    assert "Ana Byrne" in text and "Brian" in text and "organiser" in text
    status, location, _ = await send(site, "/@dublin/members/ana/appoint",
                                     token_from="/@dublin/members/manage")
    assert (status, location) == (303, "/@dublin/members/manage")
    assert await site.sql(ORGANISERS, "dublin") == [("ana",), ("dara",)]
    status, _, _ = await send(site, "/@dublin/members/ana/dismiss",
                              token_from="/@dublin/members/manage")
    assert status == 303
    assert await site.sql(ORGANISERS, "dublin") == [("dara",)]

    # dara is the only organiser: neither stopping nor being removed leaves dublin without.
    status, _, text = await send(site, "/@dublin/members/dara/dismiss",
                                 token_from="/@dublin/members/manage")
    assert status == 409
    assert "is the only organiser of IOPS Dublin: appoint another organiser first." in text
    status, _, text = await send(site, "/@dublin/members/dara/remove")
    assert status == 409
    assert await site.sql(ORGANISERS, "dublin") == [("dara",)]
    assert ("dara",) in await site.sql(MEMBERS)

    # Removing asks first; then the membership and any organising end, the account stays.
    text = await page(site, "/@dublin/members/brian/remove")
    assert "Remove Brian" in text and 'action="/@dublin/members/brian/remove"' in text
    status, location, _ = await send(site, "/@dublin/members/brian/remove")
    assert (status, location) == (303, "/@dublin/members/manage")
    assert await site.sql(MEMBERS) == [("ana",), ("dara",)]
    assert await account_store.member_id(site.db, "brian") is not None
    status, _, _ = await send(site, "/@dublin/members/brian/remove",
                              token_from="/@dublin/members/manage")
    assert status == 404
    # A member of another chapter is no member of this one.
    status, _, _ = await send(site, "/@dublin/members/lorcan/remove",
                              token_from="/@dublin/members/manage")
    assert status == 404
    assert ("lorcan",) in await site.sql(ORGANISERS, "leinster")


async def test_members_are_paged_newest_first_with_the_organisers_on_top(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_workspace, "MEMBERS_PAGE", 2)
    first = await page(site, "/@dublin/members/manage")
    organisers, _, everyone = first.partition('<section class="all-members">')
    assert "Dara" in organisers and "Ana Byrne" not in organisers
    # dara joined last: the newest two are dara and brian; ana is on the older page.
    assert "Dara" in everyone and "Brian" in everyone and "Ana Byrne" not in everyone
    older = re.search(r'href="(/@dublin/members/manage\?cursor=[^"]+)" rel="next"', first)
    assert older
    second = await page(site, html.unescape(older[1]))
    assert "Ana Byrne" in second and "Brian" not in second
    assert '<section class="organisers">' not in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "No such page" in await page(site, "/@dublin/members/manage?cursor=nonsense", 400)


async def test_a_waiting_follower_is_shown_and_approved(site: Site) -> None:
    await remote_follower_waiting(site)
    text = await page(site, "/@dublin/followers")
    assert "Rosa Luxemburg" in text and "@rosa@elsewhere.example" in text
    assert f'href="{REMOTE}"' in text
    status, location, _ = await send(site, "/@dublin/followers/approve", {"follower": REMOTE},
                                     token_from="/@dublin/followers")
    assert (status, location) == (303, "/@dublin/followers")
    assert await site.sql("SELECT follower_iri, state FROM followers") == [(REMOTE, "accepted")]
    [(document,)] = await site.sql(
        "SELECT a.document FROM activities a JOIN deliveries d ON d.activity_id = a.id"
        " WHERE a.type = 'Accept' AND d.inbox = ?", f"{REMOTE}/inbox")
    accept = json.loads(document)
    assert accept["actor"] == "http://node.test/actors/dublin"
    answered = accept["object"]
    assert (answered if isinstance(answered, str) else answered["id"]) == f"{REMOTE}#follow-1"
    assert "No follow requests are waiting." in await page(site, "/@dublin/followers")
    # Answered already: nothing more is sent.
    status, _, _ = await send(site, "/@dublin/followers/reject", {"follower": REMOTE},
                              token_from="/@dublin/followers")
    assert status == 404
    assert await site.sql("SELECT state FROM followers") == [("accepted",)]


async def test_a_rejected_follower_is_told_and_dropped(site: Site) -> None:
    await remote_follower_waiting(site)
    status, _, _ = await send(site, "/@dublin/followers/reject", {"follower": REMOTE},
                              token_from="/@dublin/followers")
    assert status == 303
    assert await site.sql("SELECT follower_iri FROM followers") == []
    assert await site.sql("SELECT type FROM activities WHERE type = 'Reject'") == [("Reject",)]


async def test_a_chapter_asks_a_parent_on_this_node_which_accepts_it(
        site: Site, lorcan: TestClient[Any, Any]) -> None:
    text = await page(site, "/@dublin/parent")
    assert "IOPS Dublin has no parent chapter." in text
    assert "regional, national, international" in text
    status, location, text = await send(site, "/@dublin/parent",
                                        {"parent": "@leinster@node.test"})
    assert (status, location) == (303, "/@dublin/parent"), text
    text = await page(site, "/@dublin/parent")
    assert "asked to join" in text and "IOPS Leinster" in text
    assert "/@dublin/parent/leave" in text

    # leinster's organiser sees it waiting, and accepts.
    response = await lorcan.get("/@leinster/manage", headers=HTML)
    assert re.search(r'href="/@leinster/subchapters">[^<]+</a> <span class="count some">1',
                     await response.text())
    response = await lorcan.get("/@leinster/subchapters", headers=HTML)
    listing = await response.text()
    assert "IOPS Dublin" in listing
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing)
    assert token
    response = await post(site, "/@leinster/subchapters/accept",
                          {"csrf_token": token[1], "child": "http://node.test/actors/dublin"},
                          client=lorcan)
    assert response.status == 303
    assert await site.sql("SELECT state FROM parents") == [("accepted",)]
    assert "is part of" in await page(site, "/@dublin/parent")
    chapter = await page(site, "/@dublin")
    assert re.search(r'Part of</dt><dd><a href="http://node.test/actors/leinster">IOPS Leinster',
                     chapter)

    # Leaving: both sides drop the link.
    status, location, _ = await send(site, "/@dublin/parent/leave", token_from="/@dublin/parent")
    assert (status, location) == (303, "/@dublin/parent")
    assert await site.sql("SELECT state FROM parents") == []
    assert await site.sql("SELECT state FROM subchapters") == []
    status, _, _ = await send(site, "/@dublin/parent/leave", token_from="/@dublin/parent")
    assert status == 404


async def test_a_subchapter_rejected_can_ask_again(
        site: Site, lorcan: TestClient[Any, Any]) -> None:
    status, _, _ = await send(site, "/@dublin/parent", {"parent": "http://node.test/@leinster"})
    assert status == 303
    token = await form_token(lorcan, "/@leinster/subchapters")
    for answer in (303, 404):  # the second time, nothing waits
        response = await post(site, "/@leinster/subchapters/reject",
                              {"csrf_token": token, "child": "http://node.test/actors/dublin"},
                              client=lorcan)
        assert response.status == answer
    assert await site.sql("SELECT state FROM parents") == []
    assert "has no parent chapter" in await page(site, "/@dublin/parent")
    status, _, _ = await send(site, "/@dublin/parent", {"parent": "@leinster@node.test"})
    assert status == 303
    assert await site.sql("SELECT state FROM parents") == [("requested",)]


@pytest.mark.parametrize(("parent", "reason"), [
    ("", "Enter the parent chapter's address"),
    ("leinster", "Enter an address such as @ireland@ireland.example.org"),
    ("@cork@node.test", "A local chapter can only join a chapter of a higher level (not local)"),
    ("@dublin@node.test", "A chapter cannot join itself"),
    ("@nobody@node.test", "There is no chapter 'nobody' on this node"),
    ("http://node.test/actor", "is not a chapter of this node"),
    ("x" * 301, "An address has at most 300 characters."),
])
async def test_a_parent_that_cannot_be_asked_says_why_and_nothing_is_asked(
        site: Site, parent: str, reason: str) -> None:
    status, _, text = await send(site, "/@dublin/parent", {"parent": parent})
    assert status == 400
    match = re.search(r'<p class="error" id="parent-error">([^<]*)</p>', text)
    assert match and reason in html.unescape(match[1]), text[-2000:]
    assert 'aria-invalid="true"' in text
    assert await site.sql("SELECT * FROM parents") == []
    assert await site.sql("SELECT * FROM subchapters") == []


# --- Targets for the authorization matrix (tests/web/test_authorization_matrix.py): each
# makes a fresh thing to act on in dublin, so one role's success does not decide the next
# role's answer. `people` is the matrix's People.

async def fresh_member(people: Any, role: str, verb: str, organiser: bool = False
                       ) -> tuple[str, dict[str, str]]:
    site = people.site
    handle = f"{verb}{next(people.serial)}"
    member = await add_member(site.db, site.config.hostname, handle, "dublin")
    if organiser:
        await account_store.add_organiser(site.db, await people.chapter("dublin"), member,
                                          now())
    return f"/@dublin/members/{handle}/{verb}", {}


async def member_to_remove(people: Any, role: str) -> tuple[str, dict[str, str]]:
    return await fresh_member(people, role, "remove")


async def member_to_appoint(people: Any, role: str) -> tuple[str, dict[str, str]]:
    return await fresh_member(people, role, "appoint")


async def organiser_to_dismiss(people: Any, role: str) -> tuple[str, dict[str, str]]:
    return await fresh_member(people, role, "dismiss", organiser=True)


async def _remote(site: Site, iri: str, kind: str) -> None:
    await remote_store.save_actor(site.db, {
        "iri": iri, "type": kind, "host": "elsewhere.example", "inbox": f"{iri}/inbox",
        "shared_inbox": None, "username": iri.rsplit("/", 1)[-1], "name": iri},
        [], {"id": iri, "type": kind})


def follower_waiting(verb: str) -> Any:
    async def target(people: Any, role: str) -> tuple[str, dict[str, str]]:
        site = people.site
        iri = f"https://elsewhere.example/users/f{next(people.serial)}"
        await _remote(site, iri, "Person")
        async with site.db.transaction() as tx:
            await inbox_store.add_follower(tx, await people.chapter("dublin"), iri,
                                           f"{iri}#follow", "requested")
        return f"/@dublin/followers/{verb}", {"follower": iri}
    return target


def subchapter_asking(verb: str) -> Any:
    async def target(people: Any, role: str) -> tuple[str, dict[str, str]]:
        site = people.site
        iri = f"https://elsewhere.example/chapters/c{next(people.serial)}"
        await _remote(site, iri, "Group")
        async with site.db.transaction() as tx:
            await hierarchy_store.add_request(tx, await people.chapter("dublin"), iri,
                                              f"{iri}#join", "requested")
        return f"/@dublin/subchapters/{verb}", {"child": iri}
    return target


async def _regional(people: Any) -> None:
    site = people.site
    if "leinster" not in people.made:
        await create_chapter(site.db, site.config.hostname, "leinster", "IOPS Leinster",
                             "regional")
        people.made["leinster"] = "leinster"


async def parent_to_ask(people: Any, role: str) -> tuple[str, dict[str, str]]:
    """dublin without a parent, asking leinster (of this node, a level above)."""
    await _regional(people)
    async with people.site.db.transaction() as tx:
        await hierarchy_store.drop_parent(tx, await people.chapter("dublin"))
        await hierarchy_store.remove_child(tx, await people.chapter("leinster"),
                                           "http://node.test/actors/dublin")
    return "/@dublin/parent", {"parent": "@leinster@node.test"}


async def parent_to_leave(people: Any, role: str) -> tuple[str, dict[str, str]]:
    """dublin having asked leinster to take it in."""
    site = people.site
    await _regional(people)
    dublin = await people.chapter("dublin")
    if await hierarchy_store.parent_of(site.db, dublin) is None:
        await affiliation.affiliate_local(site.db, Urls(site.config.base_url), "dublin",
                                        "leinster", site.config.hostname)
    return "/@dublin/parent/leave", {}


async def new_settings(people: Any, role: str) -> tuple[str, dict[str, str]]:
    return "/@dublin/settings", {"name": f"IOPS Dublin {next(people.serial)}",
                                 "summary": "Organising in Dublin.", "location": "Dublin",
                                 "founded": "2015-03-08", "about": "We meet on *Tuesdays*."}
