"""/events and /events.ics as a visitor and a calendar app see them: the upcoming events of
every chapter here and of the chapters below them elsewhere, soonest first, each in its
own time zone, 50 a page by a cursor; what is past, deleted, not public or from no chapter
below ours is left out; a bad cursor is a 400 page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from actors.registry import create_chapter
from federation.urls import Urls
from federation.vocab import PUBLIC
from outbox.content import delete_item, publish_item
from outbox.items import Item
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, make_site
from tests.web.test_chapter_tree import ELSEWHERE, add_remote, local_id, remote_chapter

SOON = datetime.now(UTC) + timedelta(days=30)


def local_time(days: int, hour: int = 19) -> str:
    """A wall-clock time `days` after SOON, as the event form takes it."""
    return (SOON + timedelta(days=days)).strftime(f"%Y-%m-%dT{hour:02d}:00")


def wire(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def receive(site: Site, slug: str, author: str, chapter: str, via: str | None = None,
                  public: bool = True, **fields: Any) -> str:
    """A remote Event as the inbox stores it: reached our `chapter`, maybe passed on."""
    iri = f"{ELSEWHERE}/objects/{slug}"
    document = {"id": iri, "type": "Event", "attributedTo": author,
                "to": [PUBLIC] if public else [author + "/followers"], **fields}
    object_id = (await site.sql(
        "INSERT INTO remote_objects (iri, type, attributed_to, document, published,"
        " received_at, via) VALUES (?, 'Event', ?, ?, ?, ?, ?) RETURNING id",
        iri, author, json.dumps(document), now(), now(), via))[0][0]
    await site.sql("INSERT INTO remote_object_audience (object_id, actor_id) VALUES (?, ?)",
                   object_id, await local_id(site, chapter))
    return iri


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin and cork here; galway elsewhere is cork's subchapter and passes on what
    salthill (below it) writes; limerick elsewhere is only followed."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    await create_chapter(made.db, made.config.hostname, "cork", "IOPS Cork", "local",
                         location="Cork")
    galway = remote_chapter("galway", "IOPS Galway", "regional", "Galway", "2019-03-08T00:00:00Z")
    await add_remote(made, galway)
    await add_remote(made, remote_chapter("salthill", "IOPS Salthill", "local", "Salthill",
                                          "2024-06-01T00:00:00Z"))
    await add_remote(made, remote_chapter("limerick", "IOPS Limerick", "local", "Limerick",
                                          "2020-01-01T00:00:00Z"))
    await made.sql(
        "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
        " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
        await local_id(made, "cork"), galway["id"], galway["id"] + "#join", now(), now())
    return made


async def publish(site: Site, handle: str, **fields: Any) -> str:
    return await publish_item(site.db, Urls(site.config.base_url), handle,
                              Item(kind="event", **fields))


async def events(site: Site, query: str = "") -> tuple[int, str]:
    response = await site.client.get(f"/events{query}", headers=HTML)
    return response.status, await response.text()


def entry(page: str, title: str) -> str:
    """The list item of the event with this title."""
    at = page.index(f">{title}</a>")
    return page[page.rindex("<li>", 0, at):page.index("</li>", at)]


def titles(page: str) -> list[str]:
    return re.findall(r'<a class="title" href="[^"]*">([^<]*)</a>', page)


async def test_upcoming_events_here_and_below_by_date_in_their_own_zones(site: Site) -> None:
    await publish(site, "dublin", title="Dublin bookfair", starts_at=local_time(3, 14),
                  ends_at=local_time(3, 17), timezone="Europe/Dublin",
                  place_name="Teachers' Club", address="36 Parnell Square")
    await publish(site, "cork", title="Cork film night", starts_at=local_time(1),
                  timezone="America/New_York", online_url="https://meet.example/cork")
    await publish(site, "dublin", title="Long past", starts_at="2020-01-10T19:00",
                  timezone="Europe/Dublin", place_name="The Cobblestone")
    gone = await publish(site, "dublin", title="Cancelled march", starts_at=local_time(2),
                         timezone="Europe/Dublin", place_name="O'Connell Street")
    await delete_item(site.db, Urls(site.config.base_url), gone)
    galway = f"{ELSEWHERE}/actors/galway"
    salthill = f"{ELSEWHERE}/actors/salthill"
    starts = (SOON + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    await receive(site, "regatta", galway, "cork", name="Galway regatta",
                  startTime=wire(starts), endTime=wire(starts + timedelta(hours=2)),
                  timezone="Asia/Tokyo", location={"type": "Place", "name": "Spanish Arch"})
    await receive(site, "swim", salthill, "cork", via=galway, name="Salthill swim",
                  startTime=wire(starts + timedelta(days=3)), isOnline=True)
    await receive(site, "secret", galway, "cork", public=False, name="Galway members only",
                  startTime=wire(starts))
    await receive(site, "old", galway, "cork", name="Galway last year",
                  startTime="2020-05-01T10:00:00Z")
    # Followed, not below: dublin hears of it, /events does not list it.
    await receive(site, "followed", f"{ELSEWHERE}/actors/limerick", "dublin",
                  name="Limerick gig", startTime=wire(starts))

    status, page = await events(site)
    assert status == 200
    assert titles(page) == ["Cork film night", "Galway regatta", "Dublin bookfair",
                            "Salthill swim"]
    # Each in its own zone, with its chapter and where (or that it is online).
    film = entry(page, "Cork film night")
    assert "19:00</time>" in film and "(America/New_York)" in film and "Online" in film
    regatta = entry(page, "Galway regatta")
    assert "19:00</time>" in regatta and "(Asia/Tokyo)" in regatta  # 10:00 UTC
    assert ">IOPS Galway</a>" in regatta and "Spanish Arch" in regatta
    assert "on another node" in regatta and 'href="/remote/' in regatta
    bookfair = entry(page, "Dublin bookfair")
    assert "14:00</time>" in bookfair and "17:00</time>" in bookfair
    assert "Teachers&#39; Club, 36 Parnell Square" in bookfair
    assert '<a href="/@dublin">IOPS Dublin</a>' in bookfair
    swim = entry(page, "Salthill swim")
    assert "Online" in swim and ">IOPS Salthill</a>" in swim
    assert 'href="/events.ics"' in page
    assert '<a href="/events" aria-current="page">Events</a>' in page

    response = await site.client.get("/events.ics")
    assert response.status == 200
    assert response.content_type == "text/calendar"
    calendar = Calendar.from_ical(await response.read())
    found = {str(e["summary"]): e for e in calendar.walk("VEVENT")}
    assert set(found) == {"Cork film night", "Galway regatta", "Dublin bookfair",
                          "Salthill swim"}
    regatta_start = found["Galway regatta"].decoded("dtstart")
    assert regatta_start == starts and str(regatta_start.tzinfo) == "Asia/Tokyo"
    assert str(found["Galway regatta"]["location"]) == "Spanish Arch"
    assert str(found["Dublin bookfair"].decoded("dtstart").tzinfo) == "Europe/Dublin"
    zones = {str(z["tzid"]) for z in calendar.walk("VTIMEZONE")}
    assert {"Asia/Tokyo", "Europe/Dublin", "America/New_York"} <= zones


async def test_many_events_go_fifty_a_page_by_a_cursor(site: Site) -> None:
    galway = f"{ELSEWHERE}/actors/galway"
    for n in range(55):
        await publish(site, "dublin", title=f"Meeting {n:02d}", starts_at=local_time(n),
                      timezone="UTC", place_name="The hall")
    # A remote event between them, and one at the same start as a local one.
    await receive(site, "between", galway, "cork", name="Galway between",
                  startTime=wire((SOON + timedelta(days=51)).replace(
                      hour=20, minute=0, second=0, microsecond=0)))
    status, first = await events(site)
    assert status == 200
    shown = titles(first)
    assert shown == [f"Meeting {n:02d}" for n in range(50)]
    later = re.search(r'<a href="(/events\?cursor=[^"]+)" rel="next">', first)
    assert later
    status, second = await events(site, later[1].removeprefix("/events"))
    assert status == 200
    assert titles(second) == ["Meeting 50", "Meeting 51", "Galway between", "Meeting 52",
                              "Meeting 53", "Meeting 54"]
    assert 'rel="next"' not in second and '<a href="/events">Soonest events</a>' in second


@pytest.mark.parametrize("cursor", ["nonsense", "x" * 500, "WyJuIixbMSwyXV0"])
async def test_a_bad_cursor_is_a_400_page(site: Site, cursor: str) -> None:
    status, page = await events(site, f"?cursor={cursor}")
    assert status == 400
    assert '<nav class="sections"' in page and "Traceback" not in page


async def test_no_events_yet(site: Site) -> None:
    status, page = await events(site)
    assert status == 200 and "No upcoming events." in page
    response = await site.client.get("/events.ics")
    assert response.status == 200
    assert Calendar.from_ical(await response.read()).walk("VEVENT") == []
