"""Joining as a visitor, an organiser and a member see it: finding a chapter, the join
form and its refusals, organisers approving and rejecting, asking to join and leaving."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from actors.accounts import hash_password
from actors.registry import create_chapter
from chapterhouse.harness import new_storage_url
from storage import accounts as account_store
from storage import joins as join_store
from storage import remote as remote_store
from storage.timestamps import now
from tests.chapterhouse.test_cli import rows, run
from tests.web.test_accounts import (
    HTML,
    PASSWORD,
    Site,
    form_token,
    log_in,
    logged_in_as,
    make_site,
    post,
    token_in,
)

NEW_PASSWORD = "a long walk home"


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    made = await make_site(tmp_path, store_location, aiohttp_client)
    # cork: a second chapter that lets people join at once; ana organises dublin.
    await create_chapter(made.db, made.config.hostname, "cork", "IOPS Cork", "local",
                         location="Cork, Ireland")
    await join_store.set_joins_open(made.db, "cork", True)
    await account_store.add_organiser(
        made.db, await account_store.chapter_id(made.db, "dublin") or 0,
        await account_store.member_id(made.db, "ana") or 0, now())
    return made


def fields(**changes: str) -> dict[str, str]:
    data = {"name": "Cara Nic Dhomhnaill", "username": "cara", "password": NEW_PASSWORD,
            "email": "cara@example.org", "message": "I live in Phibsborough.", "agree": "yes"}
    data.update(changes)
    return {k: v for k, v in data.items() if v != "-"}


async def ask(site: Site, slug: str = "dublin", client: Any = None,
              **changes: str) -> Any:
    client = client or site.client
    token = await form_token(client, f"/join/{slug}")
    return await post(site, f"/join/{slug}", {"csrf_token": token, **fields(**changes)},
                      client=client)


async def requests(site: Site) -> list[tuple[Any, ...]]:
    return await site.sql("SELECT username, name, state, password_hash IS NULL, email,"
                          " message FROM join_requests ORDER BY id")


async def test_a_visitor_finds_a_chapter_by_name_or_place_in_any_case(site: Site) -> None:
    page = await (await site.client.get("/", headers=HTML)).text()
    assert '<a class="join" href="/join">Join</a>' in page
    page = await (await site.client.get("/join?q=CORK", headers=HTML)).text()
    assert 'href="/join/cork"' in page and 'href="/join/dublin"' not in page
    page = await (await site.client.get("/join?q=ireland", headers=HTML)).text()
    assert 'href="/join/cork"' in page and 'href="/join/dublin"' not in page  # by place
    page = await (await site.client.get("/join?q=dUbLiN", headers=HTML)).text()
    assert 'href="/join/dublin"' in page and 'href="/join/cork"' not in page
    page = await (await site.client.get("/join?q=100%25", headers=HTML)).text()
    assert "No chapter of this node matches" in page
    page = await (await site.client.get("/join", headers=HTML)).text()
    assert 'href="/join/dublin"' in page and 'href="/join/cork"' in page


async def test_the_form_labels_every_field_and_shows_the_commitments(site: Site) -> None:
    page = await (await site.client.get("/join/dublin", headers=HTML)).text()
    for name in ("name", "username", "password", "email", "message", "agree"):
        assert re.search(f'<label for="{name}">', page), name
        assert f'id="{name}"' in page
    assert "I share the aims of the organisation" in page
    assert 'name="csrf_token"' in page
    assert (await site.client.get("/join/nowhere", headers=HTML)).status == 404


async def test_a_request_waits_then_approval_lets_the_new_member_log_in(site: Site) -> None:
    response = await ask(site)
    assert response.status == 200
    assert "waits for an organiser" in await response.text()
    assert await requests(site) == [
        ("cara", "Cara Nic Dhomhnaill", "requested", False, "cara@example.org",
         "I live in Phibsborough.")]
    assert await site.sql("SELECT 1 FROM actors WHERE handle = 'cara'") == []
    # Not yet a member: the login fails.
    assert (await log_in(site, "cara", NEW_PASSWORD)).status == 401

    await log_in(site)  # ana, an organiser of dublin
    chapter = await (await site.client.get("/@dublin", headers=HTML)).text()
    assert 'href="/@dublin/requests">1 request to join waiting</a>' in chapter
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    assert "Cara Nic Dhomhnaill" in page and "@cara" in page
    assert "I live in Phibsborough." in page
    (request_id,) = [r[0] for r in await site.sql("SELECT id FROM join_requests")]
    response = await post(site, f"/@dublin/requests/{request_id}/approve",
                          {"csrf_token": token_in(page)})
    assert response.status == 303
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    assert "No requests are waiting." in page
    await post(site, "/logout", {"csrf_token": token_in(page)})
    assert await requests(site) == [
        ("cara", "Cara Nic Dhomhnaill", "approved", True, None, "I live in Phibsborough.")]
    assert await site.sql(
        "SELECT c.handle FROM memberships m JOIN actors a ON a.id = m.member_id"
        " JOIN actors c ON c.id = m.chapter_id WHERE a.handle = 'cara'") == [("dublin",)]
    assert (await log_in(site, "cara", NEW_PASSWORD)).status == 303
    assert await logged_in_as(site.client) == "cara"
    page = await (await site.client.get("/@dublin", headers=HTML)).text()
    assert "You are a member" in page


async def test_rejection_wipes_the_password_email_and_message(site: Site) -> None:
    await ask(site)
    await log_in(site)
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    (request_id,) = [r[0] for r in await site.sql("SELECT id FROM join_requests")]
    response = await post(site, f"/@dublin/requests/{request_id}/reject",
                          {"csrf_token": token_in(page)})
    assert response.status == 303
    assert await requests(site) == [("cara", "Cara Nic Dhomhnaill", "rejected", True, None, "")]
    assert await site.sql("SELECT 1 FROM actors WHERE handle = 'cara'") == []
    # The username is free again.
    await post(site, "/logout", {"csrf_token": token_in(page)})
    assert (await ask(site)).status == 200


async def test_an_open_chapter_makes_the_member_at_once_and_logs_them_in(site: Site) -> None:
    response = await ask(site, "cork")
    # Logged in for the first time: the Welcome, which leads on to the chapter.
    assert response.status == 303
    assert response.headers["Location"] == "/welcome?next=/%40cork"
    assert await logged_in_as(site.client) == "cara"
    page = await (await site.client.get("/@cork", headers=HTML)).text()
    assert "You are a member" in page
    assert await site.sql("SELECT * FROM join_requests") == []
    ((hashed,),) = await site.sql(
        "SELECT password_hash FROM accounts a JOIN actors m ON m.id = a.member_id"
        " WHERE m.handle = 'cara'")
    assert hashed.startswith("$argon2id$")


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"name": "  "}, "name", "Enter your name."),
    ({"username": "Not a handle!"}, "username", "A username has 1 to 30 characters"),
    ({"username": "brian"}, "username", "not available"),
    ({"username": "dublin"}, "username", "not available"),
    ({"username": "admin"}, "username", "A username has"),
    ({"password": "short"}, "password", "8"),
    ({"email": "not-an-address"}, "email", "Enter an email address"),
    ({"agree": "-"}, "agree", "agree to the commitments"),
])
async def test_bad_fields_are_shown_next_to_the_field_and_nothing_is_stored(
        site: Site, changes: dict[str, str], field: str, text: str) -> None:
    response = await ask(site, **changes)
    assert response.status == 400
    page = await response.text()
    match = re.search(f'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert match and text in match[1], page
    assert 'aria-describedby="' in page and f"{field}-error" in page
    assert await site.sql("SELECT * FROM join_requests") == []
    assert await site.sql("SELECT 1 FROM actors WHERE handle = 'cara'") == []
    # What was typed stays in the form, except the password.
    if field != "name":
        assert 'value="Cara Nic Dhomhnaill"' in page
    assert NEW_PASSWORD not in page


async def test_a_username_waiting_in_a_request_is_not_available(site: Site) -> None:
    await ask(site)
    response = await ask(site, "cork", name="Another Cara")
    assert response.status == 400
    assert "not available" in await response.text()
    assert [r[1] for r in await requests(site)] == ["Cara Nic Dhomhnaill"]


async def test_without_the_csrf_token_nothing_is_stored(site: Site) -> None:
    await form_token(site.client, "/join/dublin")
    response = await post(site, "/join/dublin", fields())
    assert response.status == 403
    response = await post(site, "/join/cork", fields())
    assert response.status == 403
    assert await site.sql("SELECT * FROM join_requests") == []
    assert await site.sql("SELECT 1 FROM actors WHERE handle = 'cara'") == []


async def test_only_organisers_and_administrators_decide(site: Site) -> None:
    await ask(site)
    (request_id,) = [r[0] for r in await site.sql("SELECT id FROM join_requests")]
    # A visitor is sent to log in.
    response = await site.client.get("/@dublin/requests", headers=HTML,
                                     allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/@dublin/requests"
    token = await form_token(site.client)
    response = await post(site, f"/@dublin/requests/{request_id}/approve",
                          {"csrf_token": token})
    assert response.status == 303 and response.headers["Location"].startswith("/login")
    # brian, a member but no organiser, is refused.
    await account_store.create_account(site.db, await account_store.member_id(
        site.db, "brian") or 0, None, False, now())
    await account_store.set_password(site.db, await account_store.member_id(
        site.db, "brian") or 0, await hash_password(PASSWORD))
    await log_in(site, "brian")
    assert (await site.client.get("/@dublin/requests", headers=HTML)).status == 403
    page = await (await site.client.get("/@dublin", headers=HTML)).text()
    assert "/@dublin/requests" not in page
    for action in ("approve", "reject"):
        response = await post(site, f"/@dublin/requests/{request_id}/{action}",
                              {"csrf_token": token_in(page)})
        assert response.status == 403
    assert [r[2:4] for r in await requests(site)] == [("requested", False)]
    assert await site.sql("SELECT 1 FROM actors WHERE handle = 'cara'") == []
    # A node administrator may, though they organise nothing.
    await account_store.set_admin(site.db, await account_store.member_id(
        site.db, "brian") or 0, True)
    response = await post(site, f"/@dublin/requests/{request_id}/reject",
                          {"csrf_token": token_in(page)})
    assert response.status == 303
    assert [r[2] for r in await requests(site)] == ["rejected"]


async def test_a_member_asks_to_join_another_chapter_and_leaves_it(site: Site) -> None:
    await create_chapter(site.db, site.config.hostname, "galway", "IOPS Galway", "local")
    await log_in(site)  # ana, member and organiser of dublin
    page = await (await site.client.get("/@galway", headers=HTML)).text()
    assert "Ask to join" in page and "Join this chapter" not in page
    response = await post(site, "/@galway/ask", {"csrf_token": token_in(page)})
    assert response.status == 303
    page = await (await site.client.get("/@galway", headers=HTML)).text()
    assert "Request pending" in page and "Ask to join" not in page
    # An administrator approves it.
    await account_store.set_admin(site.db, await account_store.member_id(site.db, "ana") or 0,
                                  True)
    (request_id,) = [r[0] for r in await site.sql("SELECT id FROM join_requests")]
    response = await post(site, f"/@galway/requests/{request_id}/approve",
                          {"csrf_token": token_in(page)})
    assert response.status == 303
    page = await (await site.client.get("/@galway", headers=HTML)).text()
    assert "You are a member" in page
    assert '<a class="my-chapter" href="/@galway">IOPS Galway</a>' in page
    # Open chapters take a member at once.
    response = await post(site, "/@cork/ask", {"csrf_token": token_in(page)})
    page = await (await site.client.get("/@cork", headers=HTML)).text()
    assert "You are a member" in page
    response = await post(site, "/@galway/leave", {"csrf_token": token_in(page)})
    assert response.status == 303
    page = await (await site.client.get("/@galway", headers=HTML)).text()
    assert "Ask to join" in page
    assert sorted(r[0] for r in await site.sql(
        "SELECT c.handle FROM memberships m JOIN actors a ON a.id = m.member_id"
        " JOIN actors c ON c.id = m.chapter_id WHERE a.handle = 'ana'")) == ["cork", "dublin"]


async def test_an_organiser_who_leaves_stops_organising(site: Site) -> None:
    await ask(site, username="cara")  # waits for dublin's organisers
    await log_in(site)  # ana organises dublin
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    assert "Cara Nic Dhomhnaill" in page
    response = await post(site, "/@dublin/leave", {"csrf_token": token_in(page)})
    assert response.status == 303
    response = await site.client.get("/@dublin/requests", headers=HTML)
    assert response.status == 403 and "Cara" not in await response.text()
    (request_id,) = [r[0] for r in await site.sql("SELECT id FROM join_requests")]
    response = await post(site, f"/@dublin/requests/{request_id}/approve",
                          {"csrf_token": token_in(page)})
    assert response.status == 403
    assert [row[:3] for row in await requests(site)] == [
        ("cara", "Cara Nic Dhomhnaill", "requested")]


async def test_the_chapter_page_invites_a_visitor_to_join(site: Site) -> None:
    page = await (await site.client.get("/@dublin", headers=HTML)).text()
    assert '<a class="join" href="/join/dublin">Join this chapter</a>' in page
    # Leaving or asking needs a login and the token.
    assert (await post(site, "/@dublin/leave", {})).status == 403


async def test_control_characters_are_dropped_and_odd_request_ids_name_nothing(
        site: Site) -> None:
    response = await ask(site, name="Cara\x00 Nic\x07 Dhomhnaill", message="Hi\x00\nthere")
    assert response.status == 200
    assert [(r[1], r[5]) for r in await requests(site)] == [("Cara Nic Dhomhnaill", "Hi\nthere")]
    await log_in(site)
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    for odd in ("99999999999999999999999", "-1", "x", "\u0663"):
        response = await post(site, f"/@dublin/requests/{odd}/approve",
                              {"csrf_token": token_in(page)})
        assert response.status == 404, odd
    assert [r[2] for r in await requests(site)] == ["requested"]


def test_chapter_set_joins_from_the_command_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "node"
    url = new_storage_url()
    storage = ["--set", f"storage.url={url}"] if url else []
    assert run(capsys, "init", "--data", str(data), "--domain", "node.test", *storage)[0] == 0
    assert run(capsys, "chapter", "create", "dublin", "--data", str(data), "--name",
               "IOPS Dublin", "--level", "local")[0] == 0
    query = "SELECT joins_open FROM chapters"
    assert [bool(r[0]) for r in rows(data, query)] == [False]  # approval by default
    code, out, _ = run(capsys, "chapter", "set", "dublin", "--data", str(data), "--joins", "open")
    assert code == 0 and "dublin: joins open" in out
    assert [bool(r[0]) for r in rows(data, query)] == [True]
    code, out, _ = run(capsys, "chapter", "set", "dublin", "--data", str(data),
                       "--joins", "approval")
    assert code == 0 and "joins approval" in out
    assert [bool(r[0]) for r in rows(data, query)] == [False]
    code, _, err = run(capsys, "chapter", "set", "dublin", "--data", str(data))
    assert code == 2 and "--joins open|approval" in err
    code, _, err = run(capsys, "chapter", "set", "nowhere", "--data", str(data),
                       "--joins", "open")
    assert code == 2 and "no chapter 'nowhere'" in err


async def remote_chapter(site: Site, base: str, slug: str, name: str, place: str | None,
                         chapterhouse: bool = True) -> str:
    """A chapter on another node, as its fetched actor document is kept."""
    iri = f"{base}/actors/{slug}"
    document: dict[str, Any] = {"id": iri, "type": "Group", "preferredUsername": slug,
                                "name": name, "url": f"{base}/@{slug}",
                                "inbox": f"{iri}/inbox"}
    if chapterhouse:
        document["level"] = "local"
    if place:
        document["location"] = {"type": "Place", "name": place}
    await remote_store.save_actor(site.db, {
        "iri": iri, "type": "Group", "host": base.split("//")[1], "inbox": f"{iri}/inbox",
        "shared_inbox": None, "username": slug, "name": name}, [], document)
    return iri


async def test_search_finds_chapters_below_ours_on_other_nodes(site: Site) -> None:
    # galway (on another Chapterhouse node) is a subchapter of dublin; salthill, below
    # galway, is known from minutes it passed up through galway; sligo only asked.
    galway = await remote_chapter(site, "https://west.example", "galway", "IOPS Galway",
                                  "Galway, Ireland")
    salthill = await remote_chapter(site, "https://salthill.example", "salthill",
                                    "Salthill Readers", "Salthill", chapterhouse=False)
    sligo = await remote_chapter(site, "https://sligo.example", "sligo", "IOPS Sligo",
                                 "Sligo, Ireland")
    elsewhere = await remote_chapter(site, "https://far.example", "lima", "IOPS Lima",
                                     "Lima, Peru")
    dublin = await account_store.chapter_id(site.db, "dublin")
    async with site.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(dublin, galway, "accepted", f"{galway}#join", now()),
             (dublin, sligo, "requested", f"{sligo}#join", now())])
        await tx.execute(
            "INSERT INTO remote_objects (iri, type, attributed_to, document, received_at, via)"
            " VALUES (?, 'Note', ?, '{}', ?, ?)",
            ("https://salthill.example/objects/1", salthill, now(), galway))
        # Lima wrote something we got directly: not below us.
        await tx.execute(
            "INSERT INTO remote_objects (iri, type, attributed_to, document, received_at, via)"
            " VALUES (?, 'Note', ?, '{}', ?, ?)",
            ("https://far.example/objects/1", elsewhere, now(), elsewhere))

    page = await (await site.client.get("/join?q=galway", headers=HTML)).text()
    assert "Chapters below ours, on other nodes" in page
    assert '<a href="https://west.example/join/galway" rel="nofollow">' \
           '<strong>IOPS Galway</strong></a>' in page
    assert "on west.example" in page and "part of IOPS Dublin" in page
    assert "Salthill" not in page

    # By place; a chapter that is not Chapterhouse is joined from its own page.
    page = await (await site.client.get("/join?q=SALTHILL", headers=HTML)).text()
    assert '<a href="https://salthill.example/@salthill" rel="nofollow">' in page
    assert "on salthill.example" in page

    # Every chapter below, and nothing that is not (asked only, or not below at all).
    page = await (await site.client.get("/join", headers=HTML)).text()
    assert "IOPS Galway" in page and "Salthill Readers" in page
    assert "IOPS Sligo" not in page and "IOPS Lima" not in page
    page = await (await site.client.get("/join?q=ireland", headers=HTML)).text()
    assert "IOPS Galway" in page and "IOPS Sligo" not in page


async def test_a_document_cannot_send_visitors_to_a_third_site(site: Site) -> None:
    iri = await remote_chapter(site, "https://west.example", "galway", "IOPS Galway", None,
                               chapterhouse=False)
    await site.sql("UPDATE remote_actors SET document = ? WHERE iri = ?", json.dumps({
        "type": "Group", "name": "IOPS Galway", "url": "https://phishing.example/login"}),
        iri)
    dublin = await account_store.chapter_id(site.db, "dublin")
    await site.sql("INSERT INTO subchapters (chapter_id, child_iri, state, join_iri,"
                   " created_at) VALUES (?, ?, 'accepted', ?, ?)",
                   dublin, iri, f"{iri}#join", now())
    page = await (await site.client.get("/join?q=galway", headers=HTML)).text()
    assert "phishing.example" not in page
    assert f'<a href="{iri}" rel="nofollow">' in page
