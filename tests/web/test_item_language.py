"""Organisers and members say on the web what they write in: the publishing forms offer
the language, preset to the chapter's setting, refuse a code that is none next to the
field, and the item goes out with contentMap keyed by it; its page marks it with `lang`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from storage import accounts as account_store
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, log_in, make_site, post, token_in
from tests.web.test_tokens import make_token


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin, organised by ana (logged in), on a node whose language is English."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    chapter = await account_store.chapter_id(made.db, "dublin")
    ana = await account_store.member_id(made.db, "ana")
    assert chapter is not None and ana is not None
    await account_store.add_organiser(made.db, chapter, ana, now())
    await log_in(made)
    return made


async def page(site: Site, path: str) -> str:
    response = await site.client.get(path, headers=HTML)
    assert response.status == 200, await response.text()
    return await response.text()


def selected(form: str) -> str:
    """The language the form's `language` select has chosen."""
    select = form[form.index('<select id="language"'):]
    select = select[:select.index("</select>")]
    found = re.search(r'<option value="([^"]+)" selected>', select)
    assert found, select
    return found[1]


async def created(site: Site) -> dict[str, Any]:
    rows = await site.sql("SELECT document FROM activities WHERE type = 'Create'"
                          " ORDER BY id DESC LIMIT 1")
    return dict(json.loads(rows[0][0])["object"])


async def settings(site: Site, language: str) -> Any:
    form = await page(site, "/@dublin/settings")
    fields = dict(re.findall(r'<input type="(?:text|date)" id="(\w+)" name="\w+" value="([^"]*)"',
                             form))
    return await post(site, "/@dublin/settings", {
        "csrf_token": token_in(form), "name": fields["name"], "founded": fields["founded"],
        "summary": "", "location": fields.get("location", ""), "about": "",
        "language": language})


async def test_the_form_starts_with_the_chapters_language_and_sends_it(site: Site) -> None:
    form = await page(site, "/@dublin/publish?kind=news")
    assert '<label for="language">' in form and selected(form) == "en"
    response = await settings(site, "eo")
    assert response.status == 303, await response.text()
    assert await site.sql("SELECT language FROM chapters") == [("eo",)]
    form = await page(site, "/@dublin/publish?kind=news")
    assert selected(form) == "eo"
    response = await post(site, "/@dublin/publish", {
        "csrf_token": token_in(form), "kind": "news", "title": "Librofoiro",
        "summary": "", "body": "Kunportu **librojn**.", "language": "eo"})
    assert response.status == 303, await response.text()
    document = await created(site)
    assert document["contentMap"] == {"eo": document["content"]}
    assert document["nameMap"] == {"eo": "Librofoiro"}
    assert await site.sql("SELECT language FROM items") == [("eo",)]
    item = await page(site, response.headers["Location"].split("?")[0])
    assert re.search(r'<h1 lang="eo">\s*Librofoiro\s*</h1>', item)
    assert '<div class="content" lang="eo">' in item
    # The node's own language again is "not chosen": the chapter follows the node.
    assert (await settings(site, "en")).status == 303
    assert await site.sql("SELECT language FROM chapters") == [(None,)]


async def test_another_language_than_the_chapters_is_chosen_per_item(site: Site) -> None:
    form = await page(site, "/@dublin/publish?kind=event")
    assert 'value="ga"' in form  # any language CLDR names, not only the site's
    response = await post(site, "/@dublin/publish", {
        "csrf_token": token_in(form), "kind": "event", "title": "Cruinniú",
        "starts_at": "2030-05-01T19:00", "timezone": "Europe/Dublin",
        "place_name": "Teachers' Club", "summary": "", "body": "", "language": "ga"})
    assert response.status == 303, await response.text()
    document = await created(site)
    assert document["nameMap"] == {"ga": "Cruinniú"}
    # The edit form shows it; a changed language goes out with the new version.
    path = response.headers["Location"].split("?")[0]
    edit = await page(site, f"{path}/edit")
    assert selected(edit) == "ga"
    response = await post(site, f"{path}/edit", {
        "csrf_token": token_in(edit), "title": "Cruinniú", "starts_at": "2030-05-01T19:00",
        "timezone": "Europe/Dublin", "place_name": "Teachers' Club", "summary": "",
        "body": "", "language": "en"})
    assert response.status == 303, await response.text()
    rows = await site.sql("SELECT document FROM activities WHERE type = 'Update'")
    assert json.loads(rows[-1][0])["object"]["nameMap"] == {"en": "Cruinniú"}


@pytest.mark.parametrize("bad", ["xx", "Esperanto", "en-GB", "<b>"])
async def test_a_code_that_is_no_language_is_refused_next_to_the_field(
        site: Site, bad: str) -> None:
    form = await page(site, "/@dublin/publish?kind=news")
    response = await post(site, "/@dublin/publish", {
        "csrf_token": token_in(form), "kind": "news", "title": "Bookfair", "summary": "",
        "body": "Bring books.", "language": bad})
    assert response.status == 400
    text = await response.text()
    error = re.search(r'<p class="error" id="language-error">([^<]*)</p>', text)
    assert error and "is not a language code such as en or eo" in error[1]
    assert 'aria-describedby="language-rule language-error"' in text
    assert await site.sql("SELECT count(*) FROM items") == [(0,)]
    response = await settings(site, bad)
    assert response.status == 400
    assert 'id="language-error"' in await response.text()
    assert await site.sql("SELECT language FROM chapters") == [(None,)]


async def test_a_members_blog_post_and_the_chapters_note_say_theirs(site: Site) -> None:
    assert (await settings(site, "eo")).status == 303
    form = await page(site, "/@ana/write")
    assert selected(form) == "eo"  # her chapter's
    response = await post(site, "/@ana/write", {
        "csrf_token": token_in(form), "title": "Mia unua afiŝo", "summary": "",
        "body": "Saluton!", "language": "eo"})
    assert response.status == 303, await response.text()
    assert (await created(site))["contentMap"] == {"eo": "<p>Saluton!</p>"}
    form = await page(site, "/@dublin/publish?kind=note")
    response = await post(site, "/@dublin/publish", {
        "csrf_token": token_in(form), "kind": "note", "text": "Hello all", "language": "en"})
    assert response.status == 303, await response.text()
    assert (await created(site))["contentMap"] == {"en": "<p>Hello all</p>"}


async def c2s(site: Site, handle: str, document: dict[str, Any]) -> Any:
    _, token = await make_token(site)
    return await site.client.post(f"/actors/{handle}/outbox", json=document, headers={
        "Content-Type": "application/activity+json", "Authorization": f"Bearer {token}"})


async def test_a_client_says_the_language_with_its_contentmap(site: Site) -> None:
    # A map alone: its text is the content, its key the language.
    response = await c2s(site, "dublin", {
        "type": "Article", "nameMap": {"eo": "Novaĵoj"},
        "contentMap": {"eo": "Saluton al ĉiuj."}, "tag": [{"type": "Hashtag",
                                                           "name": "#news"}]})
    assert response.status == 201, await response.text()
    document = await created(site)
    assert document["nameMap"] == {"eo": "Novaĵoj"} and document["name"] == "Novaĵoj"
    assert document["contentMap"] == {"eo": "<p>Saluton al ĉiuj.</p>"}
    # Unsaid: the chapter's language (the node's, here).
    response = await c2s(site, "ana", {"type": "Note", "content": "Hello"})
    assert response.status == 201, await response.text()
    assert (await created(site))["contentMap"] == {"en": "<p>Hello</p>"}
    # Two languages in one item, or a code that is none, are refused and publish nothing.
    before = await site.sql("SELECT count(*) FROM objects")
    response = await c2s(site, "ana", {"type": "Note", "contentMap": {"eo": "a", "en": "b"}})
    assert response.status == 400
    response = await c2s(site, "ana", {"type": "Note", "content": "x",
                                       "contentMap": {"zz": "x"}})
    assert response.status in (400, 422)
    assert "language" in (await response.json())["error"]
    assert await site.sql("SELECT count(*) FROM objects") == before


async def test_lists_and_the_feed_say_each_titles_language(site: Site) -> None:
    form = await page(site, "/@dublin/publish?kind=event")
    response = await post(site, "/@dublin/publish", {
        "csrf_token": token_in(form), "kind": "event", "title": "Kunveno",
        "starts_at": "2030-05-01T19:00", "timezone": "Europe/Dublin",
        "place_name": "Teachers' Club", "summary": "Venu!", "body": "", "language": "eo"})
    assert response.status == 303, await response.text()
    assert re.search(r'<a class="title" href="[^"]+" lang="eo">Kunveno</a>',
                     await page(site, "/events"))
    assert re.search(r'<a class="title" href="[^"]+" lang="eo">Kunveno</a>',
                     await page(site, "/@dublin"))
    feed = await (await site.client.get("/actors/dublin/feed.atom")).text()
    assert re.search(r'<title type="text" xml:lang="eo">Kunveno</title>', feed)
    assert 'xml:lang="eo">' in feed[feed.index("<summary"):]
