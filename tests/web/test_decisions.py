"""Decisions from the web, as people see them: an organiser of Ireland opens one through the
form, a visitor reads the question and the totals and is asked to log in, members of
Dublin and Cork vote through the form and see their ballot and the count change once the
tallies climbed, a ballot changed is still one ballot, a member of Galway (outside the
scope) is refused with the reason, and bad input anywhere is a clear 4xx that changes
nothing."""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from actors.accounts import create_account
from actors.registry import add_member, create_chapter
from chapterhouse.app import create_app
from chapterhouse.config import parse, render_initial
from chapterhouse.services import initialise
from decisions.ballots import cast_ballot
from decisions.opening import Opening, open_decision
from federation.urls import Urls
from hierarchy.affiliation import affiliate_local
from storage import accounts as account_store
from storage import decisions as decision_store
from storage import inbox as inbox_store
from storage.timestamps import now, utcnow
from tests.web.test_accounts import HTML, PASSWORD, Site, form_token, log_in
from web.state import DB, TALLIES

QUESTION = "Adopt the 2027 campaign plan?"
OPTIONS = ["Adopt it", "Reject it", "Not yet"]
AS2 = {"Accept": "application/activity+json"}


BROWSERS: list[TestClient[Any, Any]] = []  # this test's other browsers, closed after it


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any
               ) -> AsyncIterator[Site]:
    """Ireland (national; siobhan organises it) with Dublin (ana, brian) and Cork (cian)
    below it; Galway (gearoid), a local chapter that is not. Tallies go up at once."""
    raw = tomllib.loads(render_initial("node.test", "http", "Test node"))
    raw["storage"]["url"] = str(store_location)
    raw.setdefault("hierarchy", {})["tally_debounce_seconds"] = 0.0
    config = parse(raw, tmp_path)
    await initialise(config)
    client = await aiohttp_client(create_app(config, deliver=False))
    db, host = client.app[DB], config.hostname
    for handle, name, level in (("ireland", "Ireland", "national"),
                                ("dublin", "Dublin", "local"), ("cork", "Cork", "local"),
                                ("galway", "Galway", "local")):
        await create_chapter(db, host, handle, name, level)
    for child in ("dublin", "cork"):
        await affiliate_local(db, Urls(config.base_url), child, "ireland", host, accept=True)
    for handle, chapter, name in (("ana", "dublin", "Ana Byrne"),
                                  ("brian", "dublin", "Brian Ó Súilleabháin"),
                                  ("cian", "cork", "Cian Murphy"),
                                  ("gearoid", "galway", "Gearóid Ó Cuinn"),
                                  ("siobhan", "ireland", "Siobhán Walsh")):
        await add_member(db, host, handle, chapter, name)
        await create_account(db, handle, PASSWORD)
    ireland = await account_store.chapter_id(db, "ireland")
    siobhan = await account_store.member_id(db, "siobhan")
    assert ireland is not None and siobhan is not None
    await account_store.add_organiser(db, ireland, siobhan, now())
    yield Site(client, db, config)
    while BROWSERS:
        await BROWSERS.pop().close()


async def another(site: Site) -> TestClient[Any, Any]:
    client = await site.another_browser()
    BROWSERS.append(client)
    return client


async def browser(site: Site, username: str) -> TestClient[Any, Any]:
    client = await another(site)
    assert (await log_in(site, username, client=client)).status == 303
    return client


async def page(client: TestClient[Any, Any], path: str, status: int = 200) -> str:
    response = await client.get(path, headers=HTML, allow_redirects=False)
    text = await response.text()
    assert response.status == status, text[:2000]
    return text


async def send(site: Site, client: TestClient[Any, Any], path: str,
               data: dict[str, Any], form_page: str = "/account/password") -> Any:
    token = await form_token(client, form_page)
    return await client.post(path, data={"csrf_token": token, **data},
                             headers=site.origin | HTML, allow_redirects=False)


def opening(**changes: str) -> dict[str, str]:
    closes = (utcnow() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    return {"question": QUESTION,
            "description": "The plan is in the **minutes** of the national meeting.",
            "options": "\n".join(OPTIONS), "closes_at": closes, "timezone": "UTC",
            "count_method": "members", "language": "en"} | changes


async def open_one(site: Site, organiser: TestClient[Any, Any], **changes: str) -> str:
    response = await send(site, organiser, "/@ireland/decisions", opening(**changes),
                          "/@ireland/decisions/new")
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert re.fullmatch(r"/decisions/\d+", location), location
    return location


async def settle(site: Site) -> None:
    """Run the tally worker until nothing is due within the next seconds (a decision's
    opening is the end of its second, so its first tallies may be due a moment later)."""
    worker = site.client.app[TALLIES]
    for _ in range(40):
        if await worker.run_once():
            continue
        due = await decision_store.next_due(site.db)
        if due is None or due > utcnow() + timedelta(seconds=2):
            return
        await asyncio.sleep(max((due - utcnow()).total_seconds(), 0) + 0.01)
    raise AssertionError("tallies kept coming")


async def ballots(site: Site) -> list[Any]:
    return await site.sql("SELECT member_id, choices FROM ballots ORDER BY member_id")


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_an_organiser_opens_a_decision_and_members_vote_through_the_form(
    site: Site,
) -> None:
    siobhan = await browser(site, "siobhan")
    form = await page(siobhan, "/@ireland/decisions/new")
    for field in ('name="question"', 'name="options"', 'name="multiple"',
                  'name="closes_at"', 'name="timezone"', 'value="ballots"',
                  'value="members"', 'name="language"'):
        assert field in form, field
    assert "proportional to its size whatever its turnout" in form
    path = await open_one(site, siobhan)

    # A visitor reads it all, and is asked to log in to vote.
    visitor = await another(site)
    shown = await page(visitor, path)
    assert QUESTION in shown and "<strong>minutes</strong>" in shown
    assert f'href="/login?next={path}"' in shown and "Log in to vote" in shown
    assert 'href="/@ireland">Ireland</a>' in shown
    assert "Weighted by members" in shown and "(decides)" in shown
    assert 'action="' + path + '/ballot"' not in shown

    # Ana (Dublin) votes through the form; the count changes once the tallies climbed.
    ana = await browser(site, "ana")
    shown = await page(ana, path)
    assert f'action="{path}/ballot"' in shown and 'type="radio"' in shown
    response = await send(site, ana, f"{path}/ballot", {"option": "Adopt it"}, path)
    assert response.status == 303
    assert response.headers["Location"] == f"{path}?ballot=recorded"
    await settle(site)
    shown = await page(ana, f"{path}?ballot=recorded")
    assert "Your ballot was recorded." in shown
    assert "You voted for Adopt it on" in shown
    assert re.search(r'value="Adopt it" checked', shown)
    words = text_of(shown)
    assert "Dublin</a>: 1 of 2 members voted" in shown
    assert "1 of 4 eligible members voted" in words

    # Cian (Cork) votes too; ana changes her mind and still has one ballot.
    cian = await browser(site, "cian")
    response = await send(site, cian, f"{path}/ballot", {"option": "Reject it"}, path)
    assert response.status == 303
    response = await send(site, ana, f"{path}/ballot", {"option": "Not yet"}, path)
    assert response.headers["Location"] == f"{path}?ballot=changed"
    assert len(await ballots(site)) == 2
    await settle(site)
    shown = await page(ana, f"{path}?ballot=changed")
    assert "Your ballot was changed." in shown and "You voted for Not yet on" in shown
    words = text_of(shown)
    assert "2 of 4 eligible members voted" in words
    # By members: Dublin's 2 members behind "Not yet", Cork's 1 behind "Reject it".
    assert "Not yet 1 · 50% 2 · 66.7%" in words and "Reject it 1 · 50% 1 · 33.3%" in words
    for chapter in ("Dublin", "Cork", "Ireland"):
        assert f">{chapter}</a>" in shown

    # The decision is on the chapters' pages, and in their lists.
    assert QUESTION in await page(ana, "/@dublin")
    listed = await page(ana, "/@dublin/decisions")
    assert QUESTION in listed and "you voted" in listed
    assert "Open a decision" in await page(siobhan, "/@ireland")
    assert "/@ireland/decisions/new" in await page(siobhan, "/@ireland/manage")

    # The Question's own address sends people to this page; servers still get the Question.
    decision = (await site.sql("SELECT iri FROM decisions"))[0][0]
    object_path = decision.removeprefix(site.config.base_url)
    response = await visitor.get(object_path, headers=HTML, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == path
    response = await visitor.get(object_path, headers=AS2)
    document = json.loads(await response.text())
    assert document["type"] == "Question" and document["name"] == QUESTION


async def test_a_member_outside_the_scope_is_refused_with_the_reason(site: Site) -> None:
    siobhan = await browser(site, "siobhan")
    path = await open_one(site, siobhan)
    gearoid = await browser(site, "gearoid")
    shown = await page(gearoid, path)
    assert f'action="{path}/ballot"' not in shown
    assert "Only members of the chapters this decision was put to can vote in it" in shown
    response = await send(site, gearoid, f"{path}/ballot", {"option": "Adopt it"}, path)
    assert response.status == 403
    assert "Only members of the chapters this decision was put to" in await response.text()
    assert await ballots(site) == []
    # A visitor's ballot goes to the login page, and counts for nothing.
    visitor = await another(site)
    response = await send(site, visitor, f"{path}/ballot", {"option": "Adopt it"}, "/login")
    assert response.status == 303
    assert response.headers["Location"] == f"/login?next={path}"
    assert await ballots(site) == []


async def test_only_organisers_open_a_decision(site: Site) -> None:
    visitor = await another(site)
    response = await visitor.get("/@ireland/decisions/new", headers=HTML,
                                 allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/@ireland/decisions/new"
    ana = await browser(site, "ana")  # a member of Dublin, below Ireland
    shown = await page(ana, "/@ireland/decisions/new", 403)
    assert "Only the organisers of Ireland open its decisions." in shown
    response = await send(site, ana, "/@ireland/decisions", opening())
    assert response.status == 403
    assert await site.sql("SELECT id FROM decisions") == []


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"options": "Adopt it"}, "options", "at least two options"),
    ({"options": "Same\nSame"}, "options", "must differ"),
    ({"options": "\n".join(f"Option {n}" for n in range(21))}, "options", "at most 20"),
    ({"question": " "}, "question", "needs a question"),
    ({"question": "Adopt\x00 it?"}, "question", "control characters"),
    ({"options": "Yes\nNo\x07"}, "options", "control characters"),
    ({"question": "Q" * 501}, "question", "longer than 500"),
    ({"closes_at": "2020-01-01T10:00"}, "closes_at", "in the past"),
    ({"closes_at": "next Tuesday"}, "closes_at", "closing date and time"),
    ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone"),
    ({"closes_at": "0001-01-01T00:00", "timezone": "Asia/Tokyo"}, "closes_at", "within a year"),
    ({"count_method": "loudest"}, "count_method", "Count by"),
    ({"language": "not a language"}, "language", "not a language"),
])
async def test_bad_input_to_the_form_is_shown_next_to_its_field(
    site: Site, changes: dict[str, str], field: str, says: str,
) -> None:
    siobhan = await browser(site, "siobhan")
    response = await send(site, siobhan, "/@ireland/decisions", opening(**changes),
                          "/@ireland/decisions/new")
    shown = await response.text()
    assert response.status == 400, shown[:500]
    error = re.search(rf'<p class="error" id="{field}-error">([^<]+)</p>', shown)
    assert error and says in error[1], shown
    assert await site.sql("SELECT id FROM decisions") == []


async def test_bad_ballots_and_addresses_change_nothing(site: Site) -> None:
    siobhan = await browser(site, "siobhan")
    path = await open_one(site, siobhan)
    ana = await browser(site, "ana")
    for data, status, says in (({"option": "Something else"}, 400, "is not an option"),
                               ({}, 400, "Choose an option"),
                               ({"option": ["Adopt it", "Reject it"]}, 400, "takes one option")):
        response = await send(site, ana, f"{path}/ballot", data, path)
        shown = await response.text()
        assert response.status == status, shown[:500]
        assert says in shown and 'id="option-error"' in shown
    assert await ballots(site) == []
    for wrong in ("/decisions/abc", "/decisions/999999", "/decisions/" + "9" * 40,
                  "/decisions/-1"):
        assert "No such decision" in await page(ana, wrong, 404)
        response = await send(site, ana, f"{wrong}/ballot", {"option": "Adopt it"}, path)
        assert response.status == 404
    assert "No such chapter" in await page(ana, "/@nowhere/decisions", 404)
    assert await ballots(site) == []


async def test_a_closed_decision_takes_no_ballot_and_shows_its_final_result(
    site: Site,
) -> None:
    siobhan = await browser(site, "siobhan")
    path = await open_one(site, siobhan, count_method="ballots")
    ana = await browser(site, "ana")
    assert (await send(site, ana, f"{path}/ballot", {"option": "Adopt it"}, path)).status \
        == 303
    await settle(site)
    # The close came: the worker closes it and the final tallies climb.
    moment = utcnow() - timedelta(seconds=1)
    async with site.db.transaction() as tx:
        await tx.execute("UPDATE decisions SET closes_at = ?", (moment,))
    await settle(site)
    decision = (await site.sql("SELECT closed_at FROM decisions"))[0][0]
    assert decision is not None
    shown = await page(ana, path)
    assert "Closed: this is the final result." in shown
    assert "Decided: Adopt it" in shown
    assert "This decision is closed" in shown and f'action="{path}/ballot"' not in shown
    response = await send(site, ana, f"{path}/ballot", {"option": "Reject it"}, path)
    assert response.status == 409
    stored = await decision_store.by_id(site.db, int(path.rsplit("/", 1)[1]))
    assert stored is not None and stored.closed_at is not None
    assert [json.loads(row[1]) for row in await ballots(site)] == [["Adopt it"]]


async def test_a_tie_is_shown_as_one_and_no_option_is_declared_decided(site: Site) -> None:
    siobhan = await browser(site, "siobhan")
    path = await open_one(site, siobhan, count_method="ballots")
    for member, choice in (("ana", "Adopt it"), ("cian", "Reject it")):
        client = await browser(site, member)
        assert (await send(site, client, f"{path}/ballot", {"option": choice}, path)
                ).status == 303
    await settle(site)
    shown = text_of(await page(siobhan, path))
    assert "Tied: Adopt it and Reject it" in shown and "Leading:" not in shown
    async with site.db.transaction() as tx:
        await tx.execute("UPDATE decisions SET closes_at = ?",
                         (utcnow() - timedelta(seconds=1),))
    await settle(site)
    shown = text_of(await page(siobhan, path))
    assert "No decision: a tie between Adopt it and Reject it." in shown
    assert "Decided:" not in shown


# --- Targets for tests/web/test_authorization_matrix.py (its People: a site with dublin,
# its organiser dara and its member ana, and members of cork and galway).

async def opening_for_dublin(people: Any, role: str) -> tuple[str, dict[str, str]]:
    """The form opening a decision for dublin, as its organisers would send it."""
    return "/@dublin/decisions", opening(question=f"Meet on Tuesdays? ({role})",
                                         options="Yes\nNo")


async def ballot_in_dublin(people: Any, role: str) -> tuple[str, dict[str, str]]:
    """A ballot in a decision of dublin's (opened once): only its members have a say."""
    site = people.site
    if "decision" not in people.made:
        iri = await open_decision(site.db, Urls(site.config.base_url), "dublin", Opening(
            question="Meet on Tuesdays?", options=["Yes", "No"],
            closes_at=utcnow() + timedelta(days=7)))
        decision = await decision_store.by_iri(site.db, iri)
        assert decision is not None
        people.made["decision"] = f"/decisions/{decision.id}"
    return f"{people.made['decision']}/ballot", {"option": "Yes"}


async def test_a_paper_ballot_says_who_entered_it(site: Site) -> None:
    siobhan = await browser(site, "siobhan")
    path = await open_one(site, siobhan)
    cork = await account_store.chapter_id(site.db, "cork")
    organiser = await account_store.member_id(site.db, "siobhan")
    assert cork is not None and organiser is not None
    await account_store.add_organiser(site.db, cork, organiser, now())
    decision = await decision_store.by_id(site.db, int(path.rsplit("/", 1)[1]))
    assert decision is not None
    await cast_ballot(site.db, decision.iri, "cian", ["Reject it"], timedelta(0),
                      entered_by="siobhan")
    cian = await browser(site, "cian")
    shown = await page(cian, path)
    assert "Your ballot for Reject it was entered from paper by siobhan on" in shown
    assert re.search(r'value="Reject it" checked', shown)


FAR = "https://far.example"


async def test_a_decision_from_another_node_is_voted_on_its_page_here(site: Site) -> None:
    """Galway's parent is elsewhere: the decision reached it from above, as a Question with
    the totals the deciding node counted. Its page here shows them, and Galway's members
    vote here; the copy kept as a received post leads there too."""
    iri, deciding = f"{FAR}/objects/d1", f"{FAR}/actors/europe"
    question = "Join the European network?"
    opened, closes = utcnow() - timedelta(hours=1), utcnow() + timedelta(days=3)
    document: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams", "id": iri, "type": "Question",
        "attributedTo": deciding, "name": question,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "oneOf": [{"type": "Note", "name": name, "replies": {"totalItems": total}}
                  for name, total in (("Yes", 3), ("No", 1))],
        "countMethod": "ballots", "resultFinal": False,
        "breakdown": [{"chapter": deciding, "name": "Europe", "eligible": 10, "voters": 4,
                       "ballots": [{"name": "Yes", "totalItems": 3},
                                   {"name": "No", "totalItems": 1}],
                       "final": False, "updated": "2026-11-30T10:00:00Z"}]}
    galway = await account_store.chapter_id(site.db, "galway")
    assert galway is not None
    async with site.db.transaction() as tx:
        decision_id = await decision_store.insert(
            tx, iri, deciding, None, question, "", ["Yes", "No"], False, "ballots",
            None, opened, closes)
        await decision_store.add_part(tx, decision_id, galway, deciding, True, [], None)
        await inbox_store.store_remote_object(tx, inbox_store.RemoteObjectVersion(
            iri=iri, type="Question", attributed_to=deciding, content="", summary=None,
            in_reply_to=None, published=opened, updated=None, meeting_date=None,
            document=document), [galway])
    received = (await site.sql("SELECT id FROM remote_objects WHERE iri = ?", iri))[0][0]

    gearoid = await browser(site, "gearoid")
    response = await gearoid.get(f"/remote/{received}", headers=HTML, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/decisions/{decision_id}"
    shown = await page(gearoid, f"/decisions/{decision_id}")
    assert "Join the European network?" in shown and f'href="{deciding}"' in shown
    assert "Yes 3 · 75%" in text_of(shown) and "Europe" in shown
    response = await send(site, gearoid, f"/decisions/{decision_id}/ballot", {"option": "No"},
                          f"/decisions/{decision_id}")
    assert response.status == 303
    [(chapter_id, choices)] = await site.sql("SELECT chapter_id, choices FROM ballots")
    assert chapter_id == galway and json.loads(choices) == ["No"]
    # A member of Dublin (whose chapters never got it) has no say in it.
    ana = await browser(site, "ana")
    assert "Only members of the chapters this decision was put to" in await page(
        ana, f"/decisions/{decision_id}")
