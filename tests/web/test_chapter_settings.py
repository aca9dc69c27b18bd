"""An organiser edits the chapter's settings on the web: what the chapter's page and its
actor document then say, the Update its followers are sent, and bad input refused with
the reason next to the field and nothing changed."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from PIL import Image

from actors.accounts import hash_password
from actors.registry import add_member
from storage import accounts as account_store
from storage.timestamps import now
from tests.web.test_accounts import HTML, PASSWORD, Site, form_token, log_in, make_site

AS2 = {"Accept": "application/activity+json"}
UPDATES = "SELECT document FROM activities WHERE type = 'Update' ORDER BY id"
SETTINGS = ("SELECT a.name, a.summary, a.manually_approves, a.icon_url, c.location,"
            " c.founded_at, c.about, c.about_html, c.joins_open FROM chapters c"
            " JOIN actors a ON a.id = c.actor_id ORDER BY a.id")


async def make_organiser(site: Site, handle: str = "dara", chapter: str = "dublin") -> None:
    db = site.db
    member = await add_member(db, site.config.hostname, handle, chapter, handle.title())
    await account_store.create_account(db, member, await hash_password(PASSWORD), False, now())
    chapter_id = await account_store.chapter_id(db, chapter)
    assert chapter_id is not None
    await account_store.add_organiser(db, chapter_id, member, now())


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


@pytest.fixture
async def organiser(site: Site) -> Site:
    """dara organises dublin and is logged in, in the site's browser."""
    await make_organiser(site)
    response = await log_in(site, "dara")
    assert response.status == 303
    return site


def fields(token: str, **changes: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "csrf_token": token, "name": "IOPS Dublin", "summary": "Organising in Dublin.",
        "location": "Dublin, Ireland", "founded": "2014-05-01",
        "about": "We meet *every* Tuesday.\n\n- bookfairs\n- reading groups",
        "manually_approves": "yes", "joins_open": "yes"}
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


async def save(site: Site, data: dict[str, str],
               picture: bytes | None = None) -> tuple[int, str, str]:
    form = FormData()
    for key, value in data.items():
        form.add_field(key, value)
    if picture is not None:
        form.add_field("avatar", picture, filename="logo.png", content_type="image/png")
    response = await site.client.post("/@dublin/settings", data=form, allow_redirects=False,
                                      headers=site.origin | HTML)
    return response.status, response.headers.get("Location", ""), await response.text()


def logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (500, 500), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_saved_settings_show_on_the_page_and_in_the_actor_and_go_out_as_an_update(
        organiser: Site) -> None:
    site = organiser
    token = await form_token(site.client, "/@dublin/settings")
    status, location, text = await save(
        site, fields(token, name="IOPS Dublin & Wicklow", location="Dublin, Ireland"), logo())
    assert (status, location) == (303, "/@dublin"), text

    page = await (await site.client.get("/@dublin", headers=HTML)).text()
    assert "IOPS Dublin &amp; Wicklow" in page
    assert "<em>every</em>" in page and "<li>bookfairs</li>" in page
    assert '<time datetime="2014-05-01T00:00:00Z">1 May 2014</time>' in page
    assert re.search(r'<img class="avatar large" src="http://node.test/media/avatars/'
                     r'[0-9a-f]{64}\.webp"', page)
    assert 'href="/@dublin/manage"' in page

    actor = await (await site.client.get("/actors/dublin", headers=AS2)).json()
    assert actor["name"] == "IOPS Dublin & Wicklow"
    assert actor["published"] == "2014-05-01T00:00:00Z"
    assert actor["location"] == {"type": "Place", "name": "Dublin, Ireland"}
    assert "<em>every</em>" in actor["about"]
    assert actor["manuallyApprovesFollowers"] is True
    assert actor["icon"]["mediaType"] == "image/webp"
    assert "about" in actor["@context"][-1]
    icon = await site.client.get(actor["icon"]["url"].removeprefix("http://node.test"))
    assert icon.status == 200
    assert Image.open(io.BytesIO(await icon.read())).size == (400, 400)

    [(document,)] = await site.sql(UPDATES)
    update = json.loads(document)
    assert update["actor"] == "http://node.test/actors/dublin"
    assert update["object"]["name"] == "IOPS Dublin & Wicklow"
    assert update["object"]["published"] == "2014-05-01T00:00:00Z"
    assert update["cc"] == ["http://node.test/actors/dublin/followers"]
    [row] = [r for r in await site.sql(SETTINGS) if r[0] == "IOPS Dublin & Wicklow"]
    assert row[-1] in (1, True)  # joins open

    # The form shows what was saved; saving it unchanged sends nothing.
    form = await (await site.client.get("/@dublin/settings", headers=HTML)).text()
    assert 'value="2014-05-01"' in form and "We meet *every* Tuesday." in form
    token = await form_token(site.client, "/@dublin/settings")
    status, _, _ = await save(site, fields(token, name="IOPS Dublin & Wicklow"))
    assert status == 303
    assert len(await site.sql(UPDATES)) == 1
    # Only whether joins need approval changed: nothing for followers to know.
    status, _, _ = await save(site, fields(token, name="IOPS Dublin & Wicklow", joins_open=None))
    assert status == 303
    assert len(await site.sql(UPDATES)) == 1
    assert [r[-1] for r in await site.sql(SETTINGS) if r[0] == "IOPS Dublin & Wicklow"] \
        in ([0], [False])


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"name": "   "}, "name", "Enter the chapter's name."),
    ({"name": "x" * 201}, "name", "A name has at most 200 characters."),
    ({"founded": "2099-01-01"}, "founded", "The founding date cannot be in the future."),
    ({"founded": "1.5.2014"}, "founded", "Enter the day the chapter was founded"),
    ({"founded": ""}, "founded", "Enter the day the chapter was founded"),
    ({"founded": "1700-01-01"}, "founded", "The founding date cannot be before 1800."),
    ({"location": "y" * 201}, "location", "The location has at most 200 characters."),
    ({"about": "z" * 20001}, "about", "The about text has at most 20,000 characters."),
])
async def test_bad_input_is_refused_next_to_its_field_and_changes_nothing(
        organiser: Site, changes: dict[str, str], field: str, reason: str) -> None:
    site = organiser
    before = await site.sql(SETTINGS)
    token = await form_token(site.client, "/@dublin/settings")
    status, _, text = await save(site, fields(token, **changes))
    assert status == 400
    assert re.search(rf'<p class="error" id="{field}-error">{re.escape(reason)}',
                     html.unescape(text))
    assert f'id="{field}"' in text and "aria-invalid" in text
    assert "Nothing was saved" in text
    assert await site.sql(SETTINGS) == before
    assert await site.sql(UPDATES) == []


async def test_a_file_that_is_no_picture_is_refused(organiser: Site) -> None:
    site = organiser
    before = await site.sql(SETTINGS)
    token = await form_token(site.client, "/@dublin/settings")
    status, _, text = await save(site, fields(token, name="Changed"), b"not an image at all")
    assert status == 400
    assert 'id="avatar-error"' in text
    assert await site.sql(SETTINGS) == before


async def test_a_picture_far_over_the_limit_is_refused_before_the_form_is_read(
        organiser: Site) -> None:
    site = organiser
    before = await site.sql(SETTINGS)
    token = await form_token(site.client, "/@dublin/settings")
    status, _, text = await save(site, fields(token, name="Changed"), b"\0" * (3 * 1024 * 1024))
    assert status == 413
    assert "larger than 2 MB" in text
    assert await site.sql(SETTINGS) == before


async def test_only_organisers_and_administrators_see_the_settings(site: Site) -> None:
    response = await site.client.get("/@dublin/settings", headers=HTML, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/@dublin/settings"
    assert (await log_in(site, "ana")).status == 303  # a member, not an organiser
    response = await site.client.get("/@dublin/settings", headers=HTML)
    assert response.status == 403
    assert "Only the organisers of IOPS Dublin" in await response.text()
    page = await (await site.client.get("/@dublin", headers=HTML)).text()
    assert "/@dublin/manage" not in page
    response = await site.client.get("/@nowhere/settings", headers=HTML)
    assert response.status == 404


async def test_an_old_chapter_keeps_the_creation_moment_until_its_date_is_set(
        organiser: Site) -> None:
    site = organiser
    actor = await (await site.client.get("/actors/dublin", headers=AS2)).json()
    published = datetime.fromisoformat(actor["published"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - published).total_seconds()) < 600
    form = await (await site.client.get("/@dublin/settings", headers=HTML)).text()
    assert f'value="{published.date().isoformat()}"' in form
