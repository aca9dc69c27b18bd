"""iCalendar files for events and calendars, and Atom feeds, read back as the programs that
use them would: icalendar for calendars, xml.etree for feeds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.nodes import Node
from tests.web.conftest import BROWSER, Site

ATOM = "{http://www.w3.org/2005/Atom}"


def calendar(node: Node, path: str) -> Calendar:
    response = node.get(path)
    assert response.status == 200, response.text
    assert response.content_type == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.body)


def test_event_ics_is_one_vevent_in_the_events_zone(site: Site) -> None:
    response = site.node.get(site.path("event", ".ics"))
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{site.uuid("event")}.ics"')
    cal = calendar(site.node, site.path("event", ".ics"))
    assert cal["VERSION"] == "2.0" and "Chapterhouse" in str(cal["PRODID"])
    [event] = cal.walk("VEVENT")
    dublin = ZoneInfo("Europe/Dublin")
    assert str(event["UID"]) == site.ids["event"]
    assert event["DTSTART"].params["TZID"] == "Europe/Dublin"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == datetime(2030, 9, 12, 14, 0, tzinfo=dublin)
    assert end == datetime(2030, 9, 12, 17, 30, tzinfo=dublin)
    assert start.utcoffset().total_seconds() == 3600  # Irish summer time
    assert str(event["SUMMARY"]) == "Autumn bookfair"
    assert str(event["DESCRIPTION"]) == "Books, zines and tea."
    assert str(event["LOCATION"]) == "Teachers' Club, 36 Parnell Square"
    assert str(event["URL"]) == site.ids["event"]
    assert "DTSTAMP" in event
    [zone] = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Dublin"


def test_online_event_ics_keeps_its_zone_and_link(site: Site) -> None:
    [event] = calendar(site.node, site.path("online_event", ".ics")).walk("VEVENT")
    new_york = ZoneInfo("America/New_York")
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event.decoded("DTSTART") == datetime(2030, 1, 15, 19, 0, tzinfo=new_york)
    assert event.decoded("DTEND") == datetime(2030, 1, 15, 20, 0, tzinfo=new_york)
    assert str(event["LOCATION"]) == "https://meet.example/iops"
    # Without a summary or body there is nothing to describe.
    assert "DESCRIPTION" not in event


def test_event_without_end_has_only_a_start(site: Site) -> None:
    [event] = calendar(site.node, site.path("past_event", ".ics")).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2020, 1, 10, 19, 0,
                                                tzinfo=ZoneInfo("Europe/Dublin"))
    assert "DTEND" not in event


def test_chapter_calendar_holds_its_upcoming_events(site: Site) -> None:
    cal = calendar(site.node, "/actors/dublin/events.ics")
    assert str(cal["X-WR-CALNAME"]) == "IOPS Dublin"
    uids = [str(event["UID"]) for event in cal.walk("VEVENT")]
    assert uids == [site.ids["online_event"], site.ids["event"]]  # soonest first
    assert {str(zone["TZID"]) for zone in cal.walk("VTIMEZONE")} == {
        "Europe/Dublin", "America/New_York"}
    empty = calendar(site.node, "/actors/galway/events.ics")
    assert empty.walk("VEVENT") == [] and str(empty["X-WR-CALNAME"]) == "IOPS Galway"


def feed(node: Node, path: str) -> ET.Element:
    response = node.get(path)
    assert response.status == 200, response.text
    assert response.content_type == "application/atom+xml; charset=utf-8"
    return ET.fromstring(response.body)


def test_atom_feed_has_the_chapters_items_newest_first(site: Site) -> None:
    root = feed(site.node, "/actors/dublin/feed.atom")
    base = site.node.base
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == f"{base}/actors/dublin/feed.atom"
    assert root.findtext(f"{ATOM}title") == "IOPS Dublin"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"self": f"{base}/actors/dublin/feed.atom", "alternate": f"{base}/@dublin"}
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "IOPS Dublin"
    entries = root.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    # Not deleted, not the member's, not the note: news, blogs, minutes, events, polls.
    assert ids == list(reversed(site.dublin_order))
    assert root.findtext(f"{ATOM}updated") == max(
        entry.findtext(f"{ATOM}updated") for entry in entries)
    for entry in entries:
        assert entry.findtext(f"{ATOM}title")
        [alternate] = [link for link in entry.findall(f"{ATOM}link")
                       if link.get("rel") == "alternate"]
        assert alternate.get("href") == entry.findtext(f"{ATOM}id")
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated").replace("Z", "+00:00"))
        assert entry.find(f"{ATOM}content").get("type") == "html"
    by_id = dict(zip(ids, entries, strict=True))

    news = by_id[site.ids["news"]]
    assert news.findtext(f"{ATOM}title") == "Bookfair this Saturday"
    assert news.find(f"{ATOM}category").get("term") == "news"
    # Plain text (type="text"): what the member typed, markup included, never run.
    assert news.findtext(f"{ATOM}summary") == (
        "Bring your books. <script>alert(1)</script> See you there.")
    assert news.find(f"{ATOM}summary").get("type") == "text"
    content = news.findtext(f"{ATOM}content")
    assert "<strong>Bring</strong> your books." in content and "<script>" not in content

    event = by_id[site.ids["event"]]
    assert "Thursday 12 September 2030, 14:00" in event.findtext(f"{ATOM}content")
    assert "Teachers&#39; Club, 36 Parnell Square" in event.findtext(f"{ATOM}content")
    assert {link.get("rel"): link.get("href") for link in event.findall(f"{ATOM}link")}[
        "related"] == f"{site.ids['event']}.ics"

    poll = by_id[site.ids["poll"]].findtext(f"{ATOM}content")
    assert "2 votes (67%)" in poll and "Total: 3" in poll

    minutes = by_id[site.ids["minutes"]].findtext(f"{ATOM}content")
    assert "Minutes of the meeting of 25 August 2026" in minutes


def test_member_feed_and_an_empty_feed(site: Site) -> None:
    ana = feed(site.node, "/actors/ana/feed.atom")
    assert [e.findtext(f"{ATOM}id") for e in ana.findall(f"{ATOM}entry")] == [
        site.ids["member_blog"]]
    galway = feed(site.node, "/actors/galway/feed.atom")
    assert galway.findall(f"{ATOM}entry") == []
    assert galway.findtext(f"{ATOM}updated")  # the chapter's founding, so still valid Atom


def test_feed_readers_discover_the_feed_from_the_chapter_page(site: Site) -> None:
    page = site.node.get("/@dublin", accept=BROWSER).text
    head = page[:page.index("</head>")]
    start = head.index('type="application/atom+xml"')
    href = head[start:].split('href="', 1)[1].split('"', 1)[0]
    assert site.node.get(href.removeprefix(site.node.base)).status == 200


def test_feeds_stay_public_in_authorized_fetch_mode(fresh_node: Node) -> None:
    """Calendars and feed readers cannot sign requests; the AS2 replies collection can."""
    node = fresh_node
    node.configure({"federation.authorized_fetch": True})
    assert node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                    "--level", "local").returncode == 0
    event = node.cli("post", "event", "--chapter", "dublin", "--title", "Bookfair",
                     "--start", "2030-09-12T14:00", "--timezone", "Europe/Dublin",
                     "--place-name", "Teachers' Club")
    assert event.returncode == 0, event.stderr
    node.start()
    path = event.stdout.strip().removeprefix(node.base)
    assert node.get(f"{path}/replies", accept="application/activity+json").status == 401
    for public in (f"{path}.ics", "/actors/dublin/events.ics", "/actors/dublin/feed.atom"):
        assert node.get(public).status == 200, public
