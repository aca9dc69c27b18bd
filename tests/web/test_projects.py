"""Projects from the web, as members, organisers and visitors see them: a member of a
chapter starts one (and takes part in it), its starter and the chapter's organisers edit
its status and delete it, any member joins and leaves it, and what federates is the
chapter's Article with our project terms."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from actors.accounts import create_account
from actors.registry import add_member, create_chapter
from storage import accounts as account_store
from storage import joins as joins_store
from storage.projects import newest_projects
from storage.timestamps import now
from tests.web.test_accounts import HTML, PASSWORD, Site, form_token, log_in, make_site

PROJECT = {"title": "Tool-share and Skill-share", "status": "proposed",
           "summary": "",
           "body": "Lend and borrow tools; teach what you know.\n\n- drills\n- ladders"}


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin: ana (logged in) and brian, members; dara, its organiser. cork: cian."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    db, host = made.db, made.config.hostname
    await create_account(db, "brian", PASSWORD)
    await create_chapter(db, host, "cork", "IOPS Cork", "local")
    await add_member(db, host, "cian", "cork", "Cian Murphy")
    await create_account(db, "cian", PASSWORD)
    dara = await add_member(db, host, "dara", "dublin", "Dara Walsh")
    await create_account(db, "dara", PASSWORD)
    dublin = await account_store.chapter_id(db, "dublin")
    assert dublin is not None
    await account_store.add_organiser(db, dublin, dara, now())
    assert (await log_in(made)).status == 303
    return made


async def browser(site: Site, username: str) -> Any:
    client = await site.another_browser()
    assert (await log_in(site, username, client=client)).status == 303
    return client


async def page(site: Site, path: str, client: Any = None) -> str:
    response = await (client or site.client).get(path, headers=HTML)
    assert response.status == 200, await response.text()
    return await response.text()


async def send(site: Site, path: str, data: dict[str, str], client: Any = None,
               form_page: str = "/account/password") -> Any:
    client = client or site.client
    token = await form_token(client, form_page)
    return await client.post(path, data={"csrf_token": token, **data}, allow_redirects=False,
                             headers=site.origin | HTML)


async def start(site: Site, client: Any = None, **changes: str) -> str:
    """A project started by ana (or the client's member); its IRI."""
    response = await send(site, "/@dublin/projects/new", PROJECT | changes, client)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert location.endswith("?published=1")
    return site.config.base_url + location.removesuffix("?published=1")


async def document(site: Site, iri: str) -> dict[str, Any]:
    [(text,)] = await site.sql("SELECT document FROM objects WHERE iri = ?", iri)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


async def activities(site: Site, kind: str) -> list[dict[str, Any]]:
    rows = await site.sql("SELECT document FROM activities WHERE type = ? ORDER BY id", kind)
    return [json.loads(row[0]) for row in rows]


def actor(site: Site, handle: str) -> str:
    return f"{site.config.base_url}/actors/{handle}"


def path(iri: str) -> str:
    return urlsplit(iri).path


async def items(site: Site) -> list[Any]:
    return await site.sql("SELECT object_iri, title, project_status, deleted_at FROM items")


async def test_a_member_starts_a_project_and_takes_part_in_it(site: Site) -> None:
    form = await page(site, "/@dublin/projects/new")
    for field in ("title", "status", "summary", "body"):
        assert f'<label for="{field}">' in form
    iri = await start(site)

    shown = await page(site, path(iri))
    assert "Tool-share and Skill-share" in shown
    assert '<dd class="status proposed">Proposed</dd>' in shown
    assert '<a href="/@ana">Ana Byrne</a>' in shown  # started by, and taking part
    assert "You take part in this project" in shown
    assert "<li>drills</li>" in shown

    sent = await document(site, iri)
    assert sent["type"] == "Article"
    assert sent["attributedTo"] == actor(site, "dublin")
    assert sent["startedBy"] == actor(site, "ana")
    assert sent["projectStatus"] == "proposed"
    assert sent["participants"] == {"type": "Collection", "totalItems": 1,
                                    "items": [actor(site, "ana")]}
    assert sent["tag"] == [{"type": "Hashtag", "name": "#project"}]
    [create] = await activities(site, "Create")
    assert create["actor"] == actor(site, "dublin") and create["object"]["id"] == iri
    assert create["cc"] == [f"{actor(site, 'dublin')}/followers"]

    # Listed on the chapter's page, in its archive and the node's, and for the home page.
    chapter = await page(site, "/@dublin")
    assert f'href="{path(iri)}"' in chapter and "1 taking part" in chapter
    for archive in ("/@dublin/projects", "/projects"):
        listed = await page(site, archive)
        assert f'href="{iri}"' in listed and "Proposed" in listed
    db_chapter = await account_store.chapter_id(site.db, "dublin")
    [newest] = await newest_projects(site.db, db_chapter, 5)
    assert (newest.title, newest.status, newest.participants, newest.chapter_name) == (
        "Tool-share and Skill-share", "proposed", 1, "IOPS Dublin")
    assert newest.summary.startswith("Lend and borrow tools; teach what you know.")
    assert [p.url for p in await newest_projects(site.db, None, 5)] == [iri]


async def test_a_bad_status_is_refused_next_to_its_field_and_nothing_is_made(
    site: Site
) -> None:
    response = await send(site, "/@dublin/projects/new", PROJECT | {"status": "someday"})
    assert response.status == 400
    text = await response.text()
    assert re.search(r'<p class="error" id="status-error">[^<]*someday[^<]*</p>', text), text
    assert 'aria-invalid="true"' in text
    assert 'value="Tool-share and Skill-share"' in text  # what was typed stays
    response = await send(site, "/@dublin/projects/new", PROJECT | {"title": "  "})
    assert response.status == 400
    assert 'id="title-error"' in await response.text()
    assert await items(site) == []


async def test_a_visitor_is_sent_to_log_in_and_changes_nothing(site: Site) -> None:
    visitor = await site.another_browser()
    response = await visitor.get("/@dublin/projects/new", headers=HTML,
                                 allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/@dublin/projects/new"
    token = await form_token(visitor, "/login")
    response = await visitor.post("/@dublin/projects/new", data={"csrf_token": token, **PROJECT},
                                  allow_redirects=False, headers=site.origin | HTML)
    assert response.status == 303 and response.headers["Location"].startswith("/login?next=")
    assert await items(site) == []
    # The project's own page shows a visitor how to take part, but no form.
    iri = await start(site)
    shown = await page(site, path(iri), visitor)
    assert "Log in to take part" in shown and 'name="going"' not in shown
    assert f'action="{iri}/edit"' not in shown


async def test_a_member_of_another_chapter_neither_starts_nor_changes_one(site: Site) -> None:
    cian = await browser(site, "cian")
    response = await cian.get("/@dublin/projects/new", headers=HTML)
    assert response.status == 403
    response = await send(site, "/@dublin/projects/new", PROJECT, cian)
    assert response.status == 403 and "<h1" in await response.text()
    assert await items(site) == []

    iri = await start(site)
    before = await items(site)
    assert (await cian.get(f"{path(iri)}/edit", headers=HTML)).status == 403
    response = await send(site, f"{path(iri)}/edit", PROJECT | {"status": "finished"}, cian)
    assert response.status == 403
    response = await send(site, f"{path(iri)}/delete", {}, cian)
    assert response.status == 403
    assert await items(site) == before
    assert "Edit</a>" not in await page(site, path(iri), cian)
    # Only dublin's members are offered to start one of its projects.
    for where in ("/@dublin", "/@dublin/projects"):
        assert 'href="/@dublin/projects/new"' not in await page(site, where, cian)
        assert 'href="/@dublin/projects/new"' in await page(site, where)


async def test_the_starter_and_the_organisers_change_its_status(site: Site) -> None:
    iri = await start(site)
    assert f'href="{iri}/edit"' in await page(site, path(iri))
    edit_form = await page(site, f"{path(iri)}/edit")
    assert '<option value="proposed" selected>' in edit_form

    response = await send(site, f"{path(iri)}/edit", PROJECT | {"status": "active"})
    assert response.status == 303 and response.headers["Location"] == path(iri)
    assert (await document(site, iri))["projectStatus"] == "active"
    [update] = await activities(site, "Update")
    assert update["object"]["projectStatus"] == "active"
    assert update["object"]["participants"]["totalItems"] == 1
    assert '<dd class="status active">Active</dd>' in await page(site, path(iri))

    dara = await browser(site, "dara")  # an organiser of dublin, who did not start it
    response = await send(site, f"{path(iri)}/edit",
                          PROJECT | {"status": "finished", "title": "Tool-share"}, dara)
    assert response.status == 303
    assert [(t, s) for _, t, s, _ in await items(site)] == [("Tool-share", "finished")]

    # brian, a member of dublin who did not start it, may not.
    brian = await browser(site, "brian")
    response = await send(site, f"{path(iri)}/edit", PROJECT | {"status": "proposed"}, brian)
    assert response.status == 403
    response = await send(site, f"{path(iri)}/edit", PROJECT | {"status": "later"})
    assert response.status == 400
    assert 'id="status-error"' in await response.text()
    assert [(t, s) for _, t, s, _ in await items(site)] == [("Tool-share", "finished")]


async def test_a_starter_who_left_the_chapter_no_longer_changes_it(site: Site) -> None:
    brian = await browser(site, "brian")
    iri = await start(site, brian)
    [(member, chapter)] = await site.sql(
        "SELECT m.id, c.id FROM actors m, actors c WHERE m.handle = 'brian'"
        " AND c.handle = 'dublin'")
    assert await joins_store.leave(site.db, member, chapter)
    response = await send(site, f"{path(iri)}/edit", PROJECT | {"status": "finished"}, brian)
    assert response.status == 403
    response = await send(site, f"{path(iri)}/delete", {}, brian)
    assert response.status == 403
    assert [(s, d) for _, _, s, d in await items(site)] == [("proposed", None)]


async def test_members_join_and_leave_a_project(site: Site) -> None:
    iri = await start(site)
    for member in ("brian", "cian"):  # of dublin, and of another chapter
        client = await browser(site, member)
        shown = await page(site, path(iri), client)
        assert 'name="going" value="yes"' in shown and "Take part" in shown
        response = await send(site, "/rsvp", {"object": iri, "going": "yes"}, client,
                              form_page=path(iri))
        assert response.status == 303 and response.headers["Location"] == path(iri)
        assert "You take part in this project" in await page(site, path(iri), client)
    shown = await page(site, path(iri))
    for name, handle in (("Ana Byrne", "ana"), ("Brian Ó Súilleabháin", "brian"),
                         ("Cian Murphy", "cian")):
        assert f'<a href="/@{handle}">{name}</a>' in shown
    assert "3 people" in shown
    participants = (await document(site, iri))["participants"]
    assert participants["totalItems"] == 3
    assert participants["items"] == [actor(site, h) for h in ("ana", "brian", "cian")]

    response = await send(site, "/rsvp", {"object": iri, "going": "no"}, form_page=path(iri))
    assert response.status == 303
    participants = (await document(site, iri))["participants"]
    assert participants["items"] == [actor(site, h) for h in ("brian", "cian")]
    shown = await page(site, path(iri))
    assert '<a href="/@ana">Ana Byrne</a>' in shown  # still who started it
    assert 'name="going" value="yes"' in shown


async def test_the_starter_deletes_it_and_it_is_gone(site: Site) -> None:
    iri = await start(site)
    response = await send(site, f"{path(iri)}/delete", {})
    assert response.status == 303 and response.headers["Location"] == "/@dublin/projects"
    [(_, _, _, deleted)] = await items(site)
    assert deleted is not None
    [delete] = await activities(site, "Delete")
    assert delete["actor"] == actor(site, "dublin")
    assert (await site.client.get(path(iri), headers=HTML)).status == 410
    assert f'href="{iri}"' not in await page(site, "/projects")


async def test_a_project_written_in_esperanto_says_so_on_the_wire(site: Site) -> None:
    form = await page(site, "/@dublin/projects/new")
    assert '<option value="en" selected>' in form  # the node's language, by default
    response = await send(site, "/@dublin/projects/new", PROJECT | {"language": "xx-nope"})
    assert response.status == 400
    assert 'id="language-error"' in await response.text()
    assert await items(site) == []

    iri = await start(site, title="Reto de Reciproka Helpo", language="eo",
                      body="Butikumado, veturoj kaj riparoj.")
    sent = await document(site, iri)
    assert sent["nameMap"] == {"eo": "Reto de Reciproka Helpo"}
    assert sent["contentMap"] == {"eo": sent["content"]}
    assert '<option value="eo" selected>' in await page(site, f"{path(iri)}/edit")


async def test_nobody_joins_a_finished_project(site: Site) -> None:
    iri = await start(site, status="finished")
    brian = await browser(site, "brian")
    shown = await page(site, path(iri), brian)
    assert "This project is finished." in shown and 'name="going"' not in shown
    response = await send(site, "/rsvp", {"object": iri, "going": "yes"}, brian,
                          form_page=path(iri))
    assert response.status == 403
    assert "This project is finished" in await response.text()
    assert await site.sql("SELECT participant FROM event_participants") == [
        (actor(site, "ana"),)]
