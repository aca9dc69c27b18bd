"""The organisation's own pages: administrators write the node's (welcome, About, ...),
organisers their chapter's, each in one or more languages; readers get their language,
servers an ActivityPub Page with every language in its maps, followers nothing pushed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actors.accounts import create_account
from actors.registry import add_member
from federation import jsonld
from storage import accounts as account_store
from storage import pages as page_store
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, form_token, log_in, make_site, post, token_in

ADMIN_PASSWORD = "an administrator's password"
AS2 = {"Accept": "application/activity+json"}
EO = {**HTML, "Accept-Language": "eo"}
EN = {**HTML, "Accept-Language": "en"}
AS_ = "https://www.w3.org/ns/activitystreams#"

ABOUT = {
    "slug": "about", "position": "1", "in_navigation": "yes",
    "title-en": "About IOPS",
    "body-en": "IOPS was launched in **2012** with the aim of winning a better world.",
    "title-eo": "Pri IOPS",
    "body-eo": "IOPS estis fondita en **2012** por gajni pli bonan mondon.",
}


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    made = await make_site(tmp_path, store_location, aiohttp_client)
    await add_member(made.db, made.config.hostname, "siobhan", "dublin", "Siobhán")
    await create_account(made.db, "siobhan", ADMIN_PASSWORD, is_admin=True)
    return made


async def as_admin(site: Site) -> Any:
    client = await site.another_browser()
    response = await log_in(site, "siobhan", ADMIN_PASSWORD, client=client)
    assert response.status == 303
    return client


async def write(site: Site, client: Any, path: str, fields: dict[str, str]) -> Any:
    token = await form_token(client, path)
    return await post(site, path, {"csrf_token": token, **fields}, client=client)


async def pages_rows(site: Site) -> list[Any]:
    return await site.sql(
        "SELECT p.slug, p.in_navigation, t.language, t.title, t.body FROM pages p"
        " JOIN page_texts t ON t.page_id = p.id ORDER BY p.slug, t.language")


async def deliveries(site: Site) -> list[Any]:
    return await site.sql("SELECT id FROM deliveries")


async def activities(site: Site) -> list[Any]:
    return await site.sql("SELECT id FROM activities")


async def test_an_administrator_writes_a_page_each_reader_reads_it_in_their_language(
        site: Site) -> None:
    admin = await as_admin(site)
    response = await write(site, admin, "/admin/pages/new", ABOUT)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/pages/about"

    eo = await (await site.another_browser()).get("/pages/about", headers=EO)
    page = await eo.text()
    assert eo.status == 200
    assert '<article class="site-page" lang="eo">' in page
    assert "Pri IOPS" in page and "<strong>2012</strong> por gajni" in page
    assert "About IOPS" not in page.split("<main>")[1]
    en = await (await site.another_browser()).get("/pages/about", headers=EN)
    page = await en.text()
    assert '<article class="site-page" lang="en">' in page
    assert "About IOPS" in page and "with the aim of winning" in page
    assert "Pri IOPS" not in page.split("<main>")[1]
    # Linked from the navigation of every page, in the reader's language.
    home = await (await (await site.another_browser()).get("/", headers=EO)).text()
    assert '<li><a href="/pages/about">Pri IOPS</a></li>' in home
    home = await (await (await site.another_browser()).get("/@dublin", headers=EN)).text()
    assert '<li><a href="/pages/about">About IOPS</a></li>' in home


async def test_a_page_in_one_language_says_which_it_is_shown_in(site: Site) -> None:
    admin = await as_admin(site)
    response = await write(site, admin, "/admin/pages/new", {
        "slug": "mission", "position": "2", "title-en": "Mission",
        "body-en": "To win a participatory society."})
    assert response.status == 303
    page = await (await (await site.another_browser()).get("/pages/mission",
                                                            headers=EO)).text()
    assert '<article class="site-page" lang="en">' in page
    assert "To win a participatory society." in page
    assert '<p class="meta shown-language" lang="eo">' in page
    # Not in the navigation unless asked.
    assert 'href="/pages/mission"' not in await (await admin.get("/", headers=HTML)).text()


async def test_the_ap_page_has_every_language_and_nothing_is_delivered(site: Site) -> None:
    admin = await as_admin(site)
    before = await deliveries(site), await activities(site)
    assert (await write(site, admin, "/admin/pages/new", ABOUT)).status == 303
    response = await site.client.get("/pages/about", headers=AS2)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/activity+json")
    document = await response.json()
    base = site.config.base_url
    assert document["type"] == "Page" and document["id"] == f"{base}/pages/about"
    assert document["attributedTo"] == f"{base}/actor"
    assert document["nameMap"] == {"en": "About IOPS", "eo": "Pri IOPS"}
    assert set(document["contentMap"]) == {"en", "eo"}
    assert "<strong>2012</strong> por gajni" in document["contentMap"]["eo"]
    expanded = jsonld.expand(document)[0]
    names = {(entry.get("@language"), entry["@value"]) for entry in expanded[AS_ + "name"]}
    assert ("eo", "Pri IOPS") in names and ("en", "About IOPS") in names
    contents = {entry.get("@language") for entry in expanded[AS_ + "content"]}
    assert {"en", "eo"} <= contents
    assert expanded[AS_ + "attributedTo"] == [{"@id": f"{base}/actor"}]
    for term in ("published", "updated", "url"):
        assert AS_ + term in expanded, term
    # Read by servers, never pushed: saving and editing queue no delivery.
    edited = {**ABOUT, "title-en": "About us"}
    assert (await write(site, admin, "/admin/pages/about/edit", edited)).status == 303
    assert (await deliveries(site), await activities(site)) == before


async def test_a_member_who_is_not_an_administrator_gets_403_and_nothing_changes(
        site: Site) -> None:
    admin = await as_admin(site)
    assert (await write(site, admin, "/admin/pages/new", ABOUT)).status == 303
    before = await pages_rows(site)
    await log_in(site)  # ana, a member of dublin
    page = await (await site.client.get("/", headers=HTML)).text()
    token = token_in(page)
    assert (await site.client.get("/admin/pages", headers=HTML)).status == 403
    for path, fields in (("/admin/pages/new", {**ABOUT, "slug": "mine"}),
                         ("/admin/pages/about/edit", {**ABOUT, "title-en": "Hijacked"}),
                         ("/admin/pages/about/delete", {})):
        response = await post(site, path, {"csrf_token": token, **fields})
        assert response.status == 403, path
        assert "administrators" in await response.text()
    assert await pages_rows(site) == before
    # A visitor is sent to log in.
    visitor = await site.another_browser()
    response = await visitor.get("/admin/pages/new", headers=HTML, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login?next=")


async def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(
        site: Site) -> None:
    admin = await as_admin(site)
    response = await write(site, admin, "/admin/pages/new",
                           {"slug": "Not a slug!", "position": "x", "title-eo": "Pri",
                            "body-eo": ""})
    assert response.status == 400
    page = await response.text()
    for field in ("slug", "position", "body-eo"):
        assert f'id="{field}-error"' in page, field
    response = await write(site, admin, "/admin/pages/new", {"slug": "empty"})
    assert response.status == 400 and 'id="texts-error"' in await response.text()
    response = await write(site, admin, "/admin/pages/new", {**ABOUT, "slug": "new"})
    assert response.status == 400
    assert await pages_rows(site) == []
    assert (await write(site, admin, "/admin/pages/new", ABOUT)).status == 303
    response = await write(site, admin, "/admin/pages/new", ABOUT)  # the same address
    assert response.status == 409 and 'id="slug-error"' in await response.text()
    assert len(await pages_rows(site)) == 2


async def test_an_administrator_edits_and_deletes_a_page(site: Site) -> None:
    admin = await as_admin(site)
    assert (await write(site, admin, "/admin/pages/new", ABOUT)).status == 303
    listed = await (await admin.get("/admin/pages", headers=HTML)).text()
    assert 'href="/admin/pages/about/edit"' in listed
    form = await (await admin.get("/admin/pages/about/edit", headers=HTML)).text()
    assert 'value="Pri IOPS"' in form and "gajni pli bonan mondon" in form
    changed = {**ABOUT, "slug": "who-we-are", "title-eo": "", "body-eo": ""}
    response = await write(site, admin, "/admin/pages/about/edit", changed)
    assert response.status == 303 and response.headers["Location"] == "/pages/who-we-are"
    assert [row[2] for row in await pages_rows(site)] == ["en"]
    assert (await site.client.get("/pages/about", headers=HTML)).status == 404
    # Deleting is asked once more, from the list's link.
    listed = await (await admin.get("/admin/pages", headers=HTML)).text()
    assert 'href="/admin/pages/who-we-are/delete"' in listed
    confirm = await admin.get("/admin/pages/who-we-are/delete", headers=HTML)
    page = await confirm.text()
    assert confirm.status == 200 and "Delete the page About IOPS?" in page
    assert [row[2] for row in await pages_rows(site)] == ["en"]
    response = await post(site, "/admin/pages/who-we-are/delete",
                          {"csrf_token": token_in(page)}, client=admin)
    assert response.status == 303
    assert await pages_rows(site) == []
    assert (await site.client.get("/pages/who-we-are", headers=HTML)).status == 404
    home = await (await site.client.get("/", headers=HTML)).text()
    assert 'href="/pages/who-we-are"' not in home


async def test_organisers_write_their_chapters_pages(site: Site) -> None:
    dublin = await account_store.chapter_id(site.db, "dublin")
    ana = await account_store.member_id(site.db, "ana")
    assert dublin is not None and ana is not None
    await log_in(site)
    token = token_in(await (await site.client.get("/", headers=HTML)).text())
    resources = {"slug": "resources", "position": "1", "title-en": "Resources",
                 "body-en": "- [Tool-share list](https://example.org/tools)",
                 "title-eo": "Rimedoj",
                 "body-eo": "- [Listo de iloj](https://example.org/tools)"}
    # Not an organiser yet: refused, nothing saved.
    response = await post(site, "/@dublin/pages/new", {"csrf_token": token, **resources})
    assert response.status == 403
    assert await pages_rows(site) == []
    await account_store.add_organiser(site.db, dublin, ana, now())
    manage = await (await site.client.get("/@dublin/manage", headers=HTML)).text()
    assert 'href="/@dublin/pages"' in manage
    response = await write(site, site.client, "/@dublin/pages/new", resources)
    assert response.status == 303 and response.headers["Location"] == "/@dublin/pages/resources"
    chapter = await (await (await site.another_browser()).get("/@dublin", headers=EO)).text()
    assert '<a href="/@dublin/pages/resources">Rimedoj</a>' in chapter
    page = await (await (await site.another_browser()).get("/@dublin/pages/resources",
                                                            headers=EO)).text()
    assert "Listo de iloj" in page and "Tool-share list" not in page
    document = await (await site.client.get("/@dublin/pages/resources", headers=AS2)).json()
    assert document["type"] == "Page"
    assert document["attributedTo"] == f"{site.config.base_url}/actors/dublin"
    assert document["nameMap"] == {"en": "Resources", "eo": "Rimedoj"}
    # A chapter's pages are not in the node's navigation.
    home = await (await site.client.get("/", headers=HTML)).text()
    assert 'href="/@dublin/pages/resources"' not in home
    assert await deliveries(site) == []


async def test_the_home_page_has_the_welcome_text_and_every_block(site: Site) -> None:
    visitor = await site.another_browser()
    page = await (await visitor.get("/", headers=EN)).text()
    # No welcome text yet: a sensible default, and no link to write one for visitors.
    assert "Chapters and members on this node." in page
    assert "/admin/pages/new?slug=welcome" not in page
    admin = await as_admin(site)
    page = await (await admin.get("/", headers=HTML)).text()
    assert 'href="/admin/pages/new?slug=welcome"' in page
    response = await write(site, admin, "/admin/pages/new", {
        "slug": "welcome", "position": "0",
        "title-en": "Welcome to IOPS",
        "body-en": "The interim International Organization for a Participatory Society.",
        "title-eo": "Bonvenon al IOPS",
        "body-eo": "La provizora Internacia Organizo por Partoprena Socio."})
    assert response.status == 303
    page = await (await visitor.get("/", headers=EO)).text()
    assert '<section class="welcome-text" lang="eo">' in page
    assert "Bonvenon al IOPS" in page and "Partoprena Socio" in page
    page = await (await visitor.get("/", headers=EN)).text()
    assert "Welcome to IOPS" in page and "Participatory Society" in page
    for heading, archive in (("Latest news", "/news"), ("Latest minutes", "/minutes"),
                             ("Newest projects", "/projects"), ("Upcoming events", "/events"),
                             ("Latest blogs", "/blogs"), ("Newest chapters", "/chapters"),
                             ("Poll", "/polls")):
        start = page.index(f"<h2>{heading}</h2>")
        block = page[start:page.index("</section>", start)]
        assert f'<a href="{archive}">' in block, heading
    chapters = page[page.index("<h2>Newest chapters</h2>"):]
    assert "IOPS Dublin" in chapters and "Founded: " in chapters


# --- For the authorization matrix (tests/web/test_authorization_matrix.py): a fresh page
# for each request, so one role's success does not decide the next role's answer.

PAGE_PROBE = ("SELECT id, actor_id, slug FROM pages ORDER BY id;"
              "SELECT page_id, language, title FROM page_texts ORDER BY page_id, language")


async def _a_page(people: Any, owner: str | None) -> str:
    site = people.site
    slug = f"page-{next(people.serial)}"
    if owner is None:
        [(actor,)] = await site.sql("SELECT id FROM actors WHERE kind = 'node'")
    else:
        actor = await people.chapter(owner)
    async with site.db.transaction() as tx:
        await page_store.create(tx, actor, slug, 0, False, [page_store.PageText(
            "en", "A page", "Its text.", "<p>Its text.</p>")], now())
    return slug


def page_fields(slug: str) -> dict[str, str]:
    return {"slug": slug, "position": "0", "title-en": "Edited", "body-en": "New text.",
            "title-eo": "Redaktita", "body-eo": "Nova teksto."}


def new_page(prefix: str) -> Any:
    async def target(people: Any, role: str) -> tuple[str, dict[str, str]]:
        return f"{prefix}/new", page_fields(f"new-{next(people.serial)}")
    return target


def existing_page(prefix: str, owner: str | None, verb: str) -> Any:
    async def target(people: Any, role: str) -> tuple[str, dict[str, str]]:
        slug = await _a_page(people, owner)
        return f"{prefix}/{slug}/{verb}", page_fields(slug) if verb == "edit" else {}
    return target
