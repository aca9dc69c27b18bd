"""Organisers publish every kind of item from the web, as the CLI does: the same fields, the
same reasons next to the field they are about, a Markdown preview, minutes up the
hierarchy, and editing and deleting from the item's page; nobody else does any of it."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from actors.accounts import create_account
from actors.registry import create_chapter
from federation.urls import Urls
from hierarchy.affiliation import affiliate_local
from outbox.content import publish_item
from outbox.items import Item
from storage import accounts as account_store
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, log_in, make_site, post, token_in
from tests.web.test_authorization_matrix import (
    ROLES,
    People,
    acted,
    make_people,
    organisers_of_dublin,
    row,
    send,
)

AS2 = {"Accept": "application/activity+json"}
FAR = "2030"  # a year the polls and events are still ahead in


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin, organised by ana (logged in); brian is a member with an account."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    chapter = await account_store.chapter_id(made.db, "dublin")
    ana = await account_store.member_id(made.db, "ana")
    assert chapter is not None and ana is not None
    await account_store.add_organiser(made.db, chapter, ana, now())
    await create_account(made.db, "brian", "another long password")
    await log_in(made)
    return made


async def page(site: Site, path: str, client: Any = None) -> str:
    response = await (client or site.client).get(path, headers=HTML)
    assert response.status == 200, await response.text()
    return await response.text()


async def publish(site: Site, kind: str, data: dict[str, str], client: Any = None) -> Any:
    form = await page(site, f"/@dublin/publish?kind={kind}", client)
    return await post(site, "/@dublin/publish",
                      {"csrf_token": token_in(form), "kind": kind, **data}, client=client)


async def creates(site: Site) -> list[dict[str, Any]]:
    return await documents(site, "Create")


async def documents(site: Site, kind: str) -> list[dict[str, Any]]:
    rows = await site.sql("SELECT document FROM activities WHERE type = ? ORDER BY id", kind)
    return [json.loads(r[0]) for r in rows]


async def nothing_published(site: Site) -> None:
    assert await site.sql("SELECT count(*) FROM objects") == [(0,)]
    assert await site.sql("SELECT count(*) FROM activities") == [(0,)]


KINDS: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("news", {"title": "Bookfair this Saturday", "summary": "", "body": "Bring **books**."},
     {"type": "Article", "name": "Bookfair this Saturday",
      "content": "<p>Bring <strong>books</strong>.</p>"}),
    ("blog", {"title": "Why we read", "summary": "Our reasons.", "body": "Because."},
     {"type": "Article", "name": "Why we read", "summary": "Our reasons."}),
    ("minutes", {"title": "General meeting", "meeting_date": "2026-03-04",
                 "body": "Present: all."},
     {"type": "Article", "name": "General meeting", "meetingDate": "2026-03-04"}),
    ("event", {"title": "Autumn bookfair", "starts_at": f"{FAR}-09-12T14:00",
               "ends_at": f"{FAR}-09-12T17:30", "timezone": "Europe/Dublin",
               "place_name": "Teachers' Club", "address": "36 Parnell Square",
               "online_url": "", "capacity": "40", "summary": "Books and tea.", "body": ""},
     {"type": "Event", "name": "Autumn bookfair", "startTime": f"{FAR}-09-12T14:00:00+01:00",
      "endTime": f"{FAR}-09-12T17:30:00+01:00", "timezone": "Europe/Dublin",
      "maximumAttendeeCapacity": 40,
      "location": {"type": "Place", "name": "Teachers' Club",
                   "address": {"type": "PostalAddress", "streetAddress": "36 Parnell Square"}}}),
    # The closing time is read in the form's time zone: 18:00 in New York is 23:00 UTC.
    ("poll", {"title": "Meet on Tuesdays?", "options": "Yes\r\n\r\nNo\r\nEvery other week\r\n",
              "multiple": "yes", "closes_at": f"{FAR}-12-01T18:00",
              "timezone": "America/New_York"},
     {"type": "Question", "endTime": f"{FAR}-12-01T23:00:00Z",
      "anyOf": [{"type": "Note", "name": name,
                 "replies": {"type": "Collection", "totalItems": 0}}
                for name in ("Yes", "No", "Every other week")]}),
    ("note", {"text": "The room is booked.\n\nSee you there."},
     {"type": "Note", "content": "<p>The room is booked.</p><p>See you there.</p>"}),
]


@pytest.mark.parametrize(("kind", "data", "expected"), KINDS, ids=[k[0] for k in KINDS])
async def test_each_kind_published_from_the_form_reaches_the_page_and_the_outbox(
    site: Site, kind: str, data: dict[str, str], expected: dict[str, Any]
) -> None:
    form = await page(site, f"/@dublin/publish?kind={kind}")
    assert 'aria-current="page"' in form and "<h1>Publish for IOPS Dublin</h1>" in form
    for other in ("news", "blog", "minutes", "event", "poll", "note"):
        assert f'href="/@dublin/publish?kind={other}"' in form
    response = await publish(site, kind, data)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert re.fullmatch(r"/objects/[0-9a-f]{32}\?published=1", location)
    iri = site.config.base_url + location.removesuffix("?published=1")
    shown = await page(site, location)
    assert "Published. Its address:" in shown and f'<a href="{iri}">{iri}</a>' in shown
    # Without the mark, no notice: a link to the item says nothing of the kind.
    assert "Published. Its address" not in await page(site, location.split("?")[0])

    [create] = await creates(site)
    assert create["actor"] == f"{site.config.base_url}/actors/dublin"
    document = create["object"]
    assert document["id"] == iri
    assert {key: document.get(key) for key in expected} == expected
    assert f"{site.config.base_url}/actors/dublin/followers" in document["cc"]
    outbox = await site.client.get("/actors/dublin/outbox?page=1", headers=AS2)
    assert [a["id"] for a in (await outbox.json(content_type=None))["orderedItems"]] == [
        create["id"]]
    if kind != "note":
        title = data["title"]
        assert str(escape(title)) in await page(site, "/@dublin")
        [(stored_kind,)] = await site.sql("SELECT kind FROM items")
        assert stored_kind == kind


async def test_a_new_event_starts_in_the_zone_of_the_chapters_newest_event(site: Site) -> None:
    assert 'name="timezone" value="UTC"' in await page(site, "/@dublin/publish?kind=event")
    response = await publish(site, "event", {
        "title": "Online reading group", "starts_at": f"{FAR}-01-10T19:00",
        "timezone": "America/Chicago", "online_url": "https://meet.example/reading"})
    assert response.status == 303, await response.text()
    form = await page(site, "/@dublin/publish?kind=event")
    assert 'name="timezone" value="America/Chicago"' in form
    assert '<option value="Europe/Dublin">' in form  # the zones to choose from
    [create] = await creates(site)
    assert create["object"]["isOnline"] is True
    assert create["object"]["attachment"][0]["href"] == "https://meet.example/reading"


EVENT = {"title": "Bookfair", "starts_at": f"{FAR}-09-12T14:00", "timezone": "Europe/Dublin",
         "place_name": "Teachers' Club"}
POLL = {"title": "Tuesdays?", "options": "Yes\nNo", "closes_at": f"{FAR}-12-01T18:00",
        "timezone": "UTC"}
INVALID: list[tuple[str, dict[str, str], str, str]] = [
    ("news", {"title": "", "body": "Some text"}, "title", "Title must not be empty."),
    ("blog", {"title": "x" * 301, "body": "b"}, "title",
     "Title is longer than 300 characters."),
    ("news", {"title": "t", "summary": "s" * 1001}, "summary",
     "Summary is longer than 1000 characters."),
    ("minutes", {"title": "Meeting", "meeting_date": "2026-02-30"}, "meeting_date",
     "Meeting date 2026-02-30 is not a date: day is out of range for month."),
    ("minutes", {"title": "Meeting", "meeting_date": "4 March"}, "meeting_date",
     "Meeting date '4 March' is not YYYY-MM-DD."),
    ("event", EVENT | {"timezone": "Mars/Olympus"}, "timezone",
     "Unknown time zone 'Mars/Olympus' (use e.g. Europe/Dublin)."),
    ("event", EVENT | {"starts_at": ""}, "starts_at", "An event needs a start."),
    ("event", EVENT | {"starts_at": "tomorrow"}, "starts_at",
     "Start 'tomorrow' is not an ISO 8601 date and time."),
    ("event", EVENT | {"ends_at": f"{FAR}-09-12T13:00"}, "ends_at",
     "The end must be after the start."),
    ("event", EVENT | {"place_name": ""}, "place_name",
     "An event takes either a place name or an online URL."),
    ("event", EVENT | {"place_name": "", "online_url": "ftp://files.example/x"}, "online_url",
     "Online URL 'ftp://files.example/x' must be an http(s) URL."),
    ("event", EVENT | {"place_name": "", "address": "1 Main St",
                       "online_url": "https://meet.example/x"}, "address",
     "An address needs a place name."),
    ("event", EVENT | {"capacity": "0"}, "capacity", "Capacity must be at least 1."),
    ("event", EVENT | {"capacity": "many"}, "capacity", "Capacity 'many' is not a whole number."),
    ("event", EVENT | {"capacity": "99999999999"}, "capacity",
     "Capacity must be at most 1000000."),
    ("poll", POLL | {"title": ""}, "title", "Question must not be empty."),
    ("poll", POLL | {"options": "Yes\n\n"}, "options", "A poll needs at least two options."),
    ("poll", POLL | {"options": "Yes\nYes"}, "options",
     "Poll options must differ from each other."),
    ("poll", POLL | {"options": "Yes\n" + "n" * 201}, "options",
     "Option is longer than 200 characters."),
    ("poll", POLL | {"options": "\n".join(str(n) for n in range(21))}, "options",
     "A poll has at most 20 options."),
    ("poll", POLL | {"closes_at": ""}, "closes_at", "A poll needs a closing time."),
    ("poll", POLL | {"closes_at": "2020-01-01T10:00"}, "closes_at",
     "The closing time is in the past."),
    ("poll", POLL | {"closes_at": "9999-12-31T23:00", "timezone": "America/New_York"},
     "closes_at", "Closing time '9999-12-31T23:00:00-05:00' is out of range."),
    ("event", EVENT | {"starts_at": "9999-12-31T23:00", "timezone": "America/New_York"},
     "starts_at", "Start '9999-12-31T23:00' is out of range."),
    ("poll", POLL | {"timezone": "Nowhere"}, "timezone",
     "Unknown time zone 'Nowhere' (use e.g. Europe/Dublin)."),
    ("note", {"text": "  \n "}, "text", "A note must not be empty."),
    ("note", {"text": "x" * 5001}, "text", "A note is at most 5000 characters."),
]


@pytest.mark.parametrize(("kind", "data", "field", "reason"), INVALID,
                         ids=[f"{k}-{f}-{n}" for n, (k, _, f, _) in enumerate(INVALID)])
async def test_invalid_input_shows_the_clis_reason_next_to_its_field(
    site: Site, kind: str, data: dict[str, str], field: str, reason: str
) -> None:
    response = await publish(site, kind, data)
    assert response.status == 400
    text = await response.text()
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', text)
    assert error, text
    assert html.unescape(error[1]) == reason
    assert text.count('class="error"') == 1
    # The field points at its reason, and what was typed is kept.
    assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"'
                     rf'[^>]*aria-invalid="true"', text), text
    for name, value in data.items():
        if name in ("multiple",) or not value.strip():
            continue
        assert str(escape(value.replace("\r\n", "\n"))) in text, name
    await nothing_published(site)


async def test_the_preview_shows_the_sanitised_markdown_and_publishes_nothing(
    site: Site,
) -> None:
    body = ("# Agenda\n\nBring **books** and [a friend](https://example.org).\n\n"
            "<script>alert(1)</script> [bad](javascript:alert(1))")
    response = await publish(site, "news", {"title": "Bookfair", "body": body,
                                            "preview": "1"})
    assert response.status == 200
    text = await response.text()
    preview = text.partition('<section class="preview"')[2].partition("</section>")[0]
    assert "<h1>Agenda</h1>" in preview and "<strong>books</strong>" in preview
    assert '<a href="https://example.org"' in preview
    assert "<script>" not in text and 'href="javascript:' not in text
    assert "&lt;script&gt;" in preview  # shown as text, as it will be published
    # The form again, as typed, to publish from.
    assert str(escape(body)) in text and 'value="Bookfair"' in text
    await nothing_published(site)
    # An invalid item previews too, and is refused only when published.
    response = await publish(site, "event", EVENT | {"starts_at": "", "body": "*Tea*",
                                                     "preview": "1"})
    assert response.status == 200 and "<em>Tea</em>" in await response.text()
    await nothing_published(site)


async def test_minutes_from_the_form_reach_the_parent_chapter(site: Site) -> None:
    await create_chapter(site.db, site.config.hostname, "leinster", "IOPS Leinster",
                         "regional")
    urls = Urls(site.config.base_url)
    await affiliate_local(site.db, urls, "dublin", "leinster", site.config.hostname,
                          accept=True)
    response = await publish(site, "minutes", {"title": "Minutes of March",
                                               "meeting_date": "2026-03-04",
                                               "body": "We agreed on a bookfair."})
    assert response.status == 303, await response.text()
    [create] = await creates(site)
    assert urls.actor("leinster") in create["object"]["cc"]
    parent = await page(site, "/@leinster")
    minutes = parent.partition('<section class="our-minutes">')[2].partition("</section>")[0]
    assert "Minutes of March" in minutes and "IOPS Dublin" in minutes
    # News goes up only when marked, as the CLI's --upward.
    await publish(site, "news", {"title": "Stays here", "body": "x"})
    await publish(site, "news", {"title": "Goes up", "body": "x", "upward": "yes"})
    cc = {c["object"]["name"]: c["object"]["cc"] for c in await creates(site)}
    assert urls.actor("leinster") not in cc["Stays here"]
    assert urls.actor("leinster") in cc["Goes up"]


async def published(site: Site, kind: str, data: dict[str, str]) -> str:
    response = await publish(site, kind, data)
    assert response.status == 303, await response.text()
    return str(response.headers["Location"].removesuffix("?published=1"))


async def test_an_organiser_edits_and_deletes_an_event_from_its_page(site: Site) -> None:
    where = await published(site, "event", EVENT | {"capacity": "30", "body": "Tea."})
    shown = await page(site, where)
    assert f'href="{site.config.base_url}{where}/edit"' in shown
    assert f'action="{site.config.base_url}{where}/delete"' in shown

    form = await page(site, f"{where}/edit")
    assert 'value="Bookfair"' in form and f'value="{FAR}-09-12T14:00"' in form
    assert 'value="Europe/Dublin"' in form and 'value="30"' in form and ">Tea.</textarea>" in form
    assert 'name="upward"' not in form  # the new version goes where the first went
    token = token_in(form)
    changed = EVENT | {"title": "Bookfair, moved", "starts_at": f"{FAR}-09-19T15:00",
                       "place_name": "Liberty Hall", "capacity": "50", "body": "Tea."}
    # Previewed, then refused with the reason at the field, then saved.
    response = await post(site, f"{where}/edit", {"csrf_token": token, **changed,
                                                  "body": "**Tea**", "preview": "1"})
    assert response.status == 200 and "<strong>Tea</strong>" in await response.text()
    response = await post(site, f"{where}/edit", {"csrf_token": token, **changed,
                                                  "ends_at": f"{FAR}-09-19T14:00"})
    assert response.status == 400
    assert "The end must be after the start." in await response.text()
    assert await documents(site, "Update") == []
    response = await post(site, f"{where}/edit", {"csrf_token": token, **changed})
    assert response.status == 303 and response.headers["Location"] == where
    shown = await page(site, where)
    assert "Bookfair, moved" in shown and "Liberty Hall" in shown
    [update] = await documents(site, "Update")
    assert update["object"]["name"] == "Bookfair, moved"
    assert update["object"]["startTime"] == f"{FAR}-09-19T15:00:00+01:00"
    assert update["object"]["location"]["name"] == "Liberty Hall"
    assert update["object"]["maximumAttendeeCapacity"] == 50

    response = await post(site, f"{where}/delete", {"csrf_token": token})
    assert response.status == 303 and response.headers["Location"] == "/@dublin"
    assert (await site.client.get(where, headers=HTML)).status == 410
    assert "Bookfair, moved" not in await page(site, "/@dublin")
    [delete] = await documents(site, "Delete")
    assert delete["object"]["id"] == site.config.base_url + where


async def test_an_organiser_edits_minutes_and_a_polls_question(site: Site) -> None:
    minutes = await published(site, "minutes", {"title": "March", "meeting_date": "2026-03-04",
                                                "body": "Text."})
    form = await page(site, f"{minutes}/edit")
    assert 'type="date" id="meeting_date" name="meeting_date" value="2026-03-04"' in form
    response = await post(site, f"{minutes}/edit", {
        "csrf_token": token_in(form), "title": "March", "meeting_date": "2026-03-05",
        "body": "Text."})
    assert response.status == 303
    [update] = await documents(site, "Update")
    assert update["object"]["meetingDate"] == "2026-03-05"

    poll = await published(site, "poll", POLL)
    form = await page(site, f"{poll}/edit")
    assert "<li>Yes</li>" in form and 'name="options"' not in form
    response = await post(site, f"{poll}/edit", {
        "csrf_token": token_in(form), "title": "Meet on Tuesdays?", "options": "Other"})
    assert response.status == 303
    update = (await documents(site, "Update"))[-1]
    assert update["object"]["content"].startswith("<p>Meet on Tuesdays?</p>")
    assert [o["name"] for o in update["object"]["oneOf"]] == ["Yes", "No"]


async def test_an_organiser_deletes_a_chapters_note_from_its_page(site: Site) -> None:
    where = await published(site, "note", {"text": "Room booked."})
    other = await site.another_browser()
    try:
        # Not for a member who does not organise dublin: no button, and a 403.
        await log_in(site, "brian", "another long password", client=other)
        shown = await page(site, where, other)
        assert f"{where}/delete" not in shown
        response = await post(site, f"{where}/delete", {"csrf_token": token_in(shown)},
                              client=other)
        assert response.status == 403
        assert await documents(site, "Delete") == []

        shown = await page(site, where)
        assert f'action="{site.config.base_url}{where}/delete"' in shown
        response = await post(site, f"{where}/delete", {"csrf_token": token_in(shown)})
        assert response.status == 303 and response.headers["Location"] == "/@dublin"
        assert (await site.client.get(where, headers=HTML)).status == 410
        [delete] = await documents(site, "Delete")
        assert delete["object"]["id"] == site.config.base_url + where
        # A note is deleted, not edited (as with the CLI).
        assert (await site.client.get(f"{where}/edit", headers=HTML)).status == 404
    finally:
        await other.close()  # last: it stops the shared test server


async def test_a_member_who_does_not_organise_gets_403_and_nothing_changes(
    site: Site,
) -> None:
    news = await published(site, "news", {"title": "Bookfair", "body": "Bring books."})
    before = await site.sql("SELECT id FROM activities ORDER BY id")
    other = await site.another_browser()
    try:
        await log_in(site, "brian", "another long password", client=other)
        token = token_in(await page(site, "/", other))
        response = await other.get("/@dublin/publish?kind=news", headers=HTML)
        assert response.status == 403
        assert "Only the organisers of IOPS Dublin" in await response.text()
        response = await post(site, "/@dublin/publish", {
            "csrf_token": token, "kind": "news", "title": "Not mine", "body": "x"},
            client=other)
        assert response.status == 403
        shown = await page(site, news, other)
        assert f"{news}/edit" not in shown and f"{news}/delete" not in shown
        assert (await other.get(f"{news}/edit", headers=HTML)).status == 403
        response = await post(site, f"{news}/edit", {"csrf_token": token,
                                                     "title": "Defaced", "body": "x"},
                              client=other)
        assert response.status == 403
        response = await post(site, f"{news}/delete", {"csrf_token": token}, client=other)
        assert response.status == 403
        assert await site.sql("SELECT title, deleted_at FROM items") == [("Bookfair", None)]
        assert await site.sql("SELECT id FROM activities ORDER BY id") == before
        # A visitor is sent to log in.
        await post(site, "/logout", {"csrf_token": token_in(await page(site, "/"))})
        response = await site.client.get("/@dublin/publish?kind=poll", headers=HTML,
                                         allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/login?next=/@dublin/publish%3Fkind%3Dpoll"
    finally:
        await other.close()  # last: it stops the shared test server


async def test_an_unknown_chapter_or_kind_is_a_clear_404(site: Site) -> None:
    for path in ("/@nowhere/publish?kind=news", "/@ana/publish?kind=news",
                 "/@dublin/publish?kind=letter"):
        response = await site.client.get(path, headers=HTML)
        assert response.status == 404, path
        assert "<h1>" in await response.text()


# --- Who may edit and delete a chapter's items: every role, as the matrix tries routes.

async def _dublin_news(people: People) -> str:
    site = people.site
    iri = await publish_item(site.db, Urls(site.config.base_url), "dublin",
                             Item(kind="news", title=f"News {next(people.serial)}", body="x"))
    return iri.removeprefix(site.config.base_url)


async def edit_dublin_news(people: People, role: str) -> tuple[str, dict[str, str]]:
    return f"{await _dublin_news(people)}/edit", {"title": "Edited", "summary": "",
                                                  "body": "New text."}


async def delete_dublin_news(people: People, role: str) -> tuple[str, dict[str, str]]:
    return f"{await _dublin_news(people)}/delete", {}


CHAPTER_ITEM_ROWS = [
    row("POST /objects/{uuid}/edit", edit_dublin_news, "SELECT title, body FROM items ORDER BY id",
        **organisers_of_dublin(acted(303, "/objects/"))),
    row("POST /objects/{uuid}/delete", delete_dublin_news,
        "SELECT object_iri, deleted_at FROM items ORDER BY id",
        **organisers_of_dublin(acted(303, "/@dublin"))),
]


@pytest.fixture
async def people(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Any:
    made = await make_people(tmp_path, store_location, aiohttp_client)
    yield made
    for client in made.clients.values():
        if client is not made.site.client:
            await client.close()


@pytest.mark.parametrize("entry", CHAPTER_ITEM_ROWS, ids=["edit", "delete"])
async def test_a_chapters_items_are_edited_and_deleted_by_its_organisers_only(
    people: People, entry: Any
) -> None:
    for role in ROLES:
        expected = entry.answers[role]
        sent = await send(people, entry, role, people.tokens[role])
        where = f"{entry.route} of a chapter's item as {role}"
        assert sent.status == expected.status, f"{where}: {sent.text[:300]}"
        if expected.location is not None:
            assert sent.location.startswith(expected.location), f"{where}: {sent.location}"
        assert (sent.after != sent.before) == expected.changes, where
        if expected.status >= 400:
            assert "<h1" in sent.text, where
