"""Voting and going to events from the web, as a member and a visitor see it: local polls
counted at once, remote polls and events asked of their author through the outbox, and
the page of a remote object."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from actors.accounts import create_account
from federation.vocab import PUBLIC
from inbox.activity import parse
from inbox.handlers import Context, _version, handle_answer
from outbox.content import publish_item
from outbox.items import Item
from storage import inbox as inbox_store
from storage import remote as remote_store
from storage.remote import RemoteKey
from tests.web.test_accounts import HTML, PASSWORD, Site, form_token, log_in, make_site, post
from web.state import NODE

PEER = "https://peer.example"
AUTHOR = f"{PEER}/users/alice"


def _soon(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    made = await make_site(tmp_path, store_location, aiohttp_client)
    await create_account(made.db, "brian", PASSWORD)
    return made


async def _publish(site: Site, item: Item) -> str:
    urls = site.client.app[NODE].urls
    return await publish_item(site.db, urls, "dublin", item)


async def _poll(site: Site, multiple: bool = False, closes: str | None = None) -> str:
    return await _publish(site, Item(kind="poll", title="Which night for the meeting?",
                                     options=["Tuesday", "Thursday", "Saturday"],
                                     multiple=multiple, closes_at=closes or _soon()))


async def _event(site: Site, capacity: int | None = None) -> str:
    return await _publish(site, Item(kind="event", title="Winter assembly",
                                     starts_at=_soon(10), ends_at=_soon(11),
                                     timezone="Europe/Dublin", place_name="Teachers' Club",
                                     capacity=capacity))


def _path(iri: str) -> str:
    return urlsplit(iri).path


async def _page(site: Site, path: str, client: Any = None) -> str:
    response = await (client or site.client).get(path, headers=HTML)
    assert response.status == 200, await response.text()
    return await response.text()


async def _send(site: Site, path: str, page_path: str, fields: list[tuple[str, str]],
                client: Any = None) -> Any:
    token = await form_token(client or site.client, page_path)
    return await (client or site.client).post(
        path, data=[("csrf_token", token), *fields], allow_redirects=False,
        headers=site.origin | HTML)


async def _totals(site: Site, iri: str) -> dict[str, int]:
    rows = await site.sql(
        "SELECT choice, count(*) FROM poll_votes v JOIN items i ON i.id = v.item_id"
        " WHERE i.object_iri = ? GROUP BY choice", iri)
    return {choice: int(n) for choice, n in rows}


async def _updates(site: Site, iri: str) -> int:
    rows = await site.sql("SELECT document FROM activities WHERE type = 'Update'")
    return sum(1 for (doc,) in rows if json.loads(doc)["object"]["id"] == iri)


async def test_a_member_votes_once_and_sees_their_vote_and_the_totals(site: Site) -> None:
    poll = await _poll(site)
    await log_in(site)
    page = await _page(site, _path(poll))
    assert 'action="/vote"' in page and 'type="radio"' in page
    assert "<legend>" in page and 'for="choice-1"' in page

    response = await _send(site, "/vote", _path(poll), [("object", poll), ("choice", "Thursday")])
    assert response.status == 303 and response.headers["Location"] == _path(poll)
    assert await _totals(site, poll) == {"Thursday": 1}
    # Followers learn the new totals as they do for a vote from elsewhere.
    assert await _updates(site, poll) == 1
    voter = await site.sql("SELECT voter FROM poll_votes")
    assert voter == [(site.client.app[NODE].urls.actor("ana"),)]

    page = await _page(site, _path(poll))
    assert "You voted: Thursday" in page
    assert 'action="/vote"' not in page
    assert re.search(r'Thursday</span>.*?1 vote', page, re.S)

    again = await _send(site, "/vote", _path(poll), [("object", poll), ("choice", "Tuesday")])
    assert again.status == 409
    assert "already" in await again.text()
    assert await _totals(site, poll) == {"Thursday": 1}


async def test_several_choices_in_one_submission_where_the_poll_allows_them(site: Site) -> None:
    poll = await _poll(site, multiple=True)
    await log_in(site)
    assert 'type="checkbox"' in await _page(site, _path(poll))
    response = await _send(site, "/vote", _path(poll), [
        ("object", poll), ("choice", "Tuesday"), ("choice", "Saturday")])
    assert response.status == 303
    assert await _totals(site, poll) == {"Tuesday": 1, "Saturday": 1}
    assert "You voted: Tuesday, Saturday" in await _page(site, _path(poll))


async def test_bad_votes_are_refused_and_change_nothing(site: Site) -> None:
    single = await _poll(site)
    await log_in(site)
    cases = [
        ([("object", single), ("choice", "Sunday")], 400, "not an option"),
        ([("object", single), ("choice", "Tuesday"), ("choice", "Thursday")], 400,
         "one choice"),
        ([("object", single)], 400, "Choose an option"),
        ([("object", f"{single}x"), ("choice", "Tuesday")], 404, "no such poll"),
        ([("object", "https://nowhere.example/q/1"), ("choice", "Tuesday")], 404,
         "no such poll"),
    ]
    for fields, status, words in cases:
        response = await _send(site, "/vote", _path(single), fields)
        assert response.status == status, fields
        assert words in await response.text(), fields
    assert await _totals(site, single) == {}
    assert await _updates(site, single) == 0


async def test_a_closed_poll_takes_no_votes(site: Site) -> None:
    poll = await _poll(site)
    await site.sql("UPDATE items SET closes_at = ? WHERE object_iri = ?",
                   datetime.now(UTC) - timedelta(minutes=1), poll)
    await log_in(site)
    page = await _page(site, _path(poll))
    assert 'action="/vote"' not in page
    response = await _send(site, "/vote", _path(poll), [("object", poll), ("choice", "Tuesday")])
    assert response.status == 403 and "closed" in await response.text()
    assert await _totals(site, poll) == {}


async def test_a_visitor_is_asked_to_log_in_and_cannot_vote(site: Site) -> None:
    poll = await _poll(site)
    page = await _page(site, _path(poll))
    assert "Log in to vote" in page and "Mastodon" in page
    assert 'action="/vote"' not in page
    token = await form_token(site.client)
    response = await post(site, "/vote", {"csrf_token": token, "object": poll,
                                          "choice": "Tuesday"})
    # Only a member whose session ended after the form was shown gets here: to log in,
    # then back to the poll.
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=")
    assert await _totals(site, poll) == {}


async def test_a_member_goes_to_an_event_and_leaves_it(site: Site) -> None:
    event = await _event(site, capacity=2)
    await log_in(site)
    page = await _page(site, _path(event))
    assert 'name="going" value="yes"' in page and "2 places left" in page
    response = await _send(site, "/rsvp", _path(event), [("object", event), ("going", "yes")])
    assert response.status == 303
    page = await _page(site, _path(event))
    assert "You are going · 1 place left" in page
    assert '<dd class="participants">1</dd>' in page
    assert await _updates(site, event) == 1
    # Pressing again (two tabs) counts once.
    await _send(site, "/rsvp", _path(event), [("object", event), ("going", "yes")])
    assert await site.sql("SELECT count(*) FROM event_participants") == [(1,)]

    response = await _send(site, "/rsvp", _path(event), [("object", event), ("going", "no")])
    assert response.status == 303
    page = await _page(site, _path(event))
    assert "You are going" not in page and "2 places left" in page
    assert await site.sql("SELECT count(*) FROM event_participants") == [(0,)]
    assert await _updates(site, event) == 2


async def test_a_full_event_says_so_and_takes_nobody_more(site: Site) -> None:
    event = await _event(site, capacity=1)
    await log_in(site)
    await _send(site, "/rsvp", _path(event), [("object", event), ("going", "yes")])
    brian = await site.another_browser()
    try:
        await log_in(site, "brian", client=brian)
        page = await _page(site, _path(event), client=brian)
        assert "This event is full" in page and 'name="going" value="yes"' not in page
        response = await _send(site, "/rsvp", _path(event),
                               [("object", event), ("going", "yes")], client=brian)
        assert response.status == 409 and "full" in await response.text()
        assert await site.sql("SELECT count(*) FROM event_participants") == [(1,)]
        bad = await _send(site, "/rsvp", _path(event), [("object", event), ("going", "maybe")])
        assert bad.status == 400
    finally:
        # Closing the second browser stops the shared test server: checks come before.
        await brian.close()


async def test_nobody_goes_to_or_leaves_an_event_that_is_over(site: Site) -> None:
    event = await _event(site)
    await log_in(site)
    await _send(site, "/rsvp", _path(event), [("object", event), ("going", "yes")])
    past = datetime.now(UTC) - timedelta(days=1)
    await site.sql("UPDATE items SET starts_at = ?, ends_at = ? WHERE object_iri = ?",
                   past - timedelta(hours=2), past, event)
    page = await _page(site, _path(event))
    assert "This event is over" in page and 'action="/rsvp"' not in page
    for going in ("no", "yes"):
        response = await _send(site, "/rsvp", _path(event),
                               [("object", event), ("going", going)])
        assert response.status == 403 and "over" in await response.text()
    assert await site.sql("SELECT count(*) FROM event_participants") == [(1,)]


async def _remote_object(site: Site, document: dict[str, Any], via: str = AUTHOR) -> int:
    """A remote actor and an object of theirs that reached the dublin chapter (from its
    author, or passed down by `via`), as the inbox stores them."""
    await remote_store.save_actor(site.db, {
        "iri": AUTHOR, "type": "Person", "host": "peer.example",
        "inbox": f"{AUTHOR}/inbox", "shared_inbox": f"{PEER}/inbox",
        "username": "alice", "name": "Alice Peer"}, [RemoteKey(f"{AUTHOR}#key", "rsa", "x")],
        {"id": AUTHOR})
    async with site.db.transaction() as tx:
        dublin = await inbox_store.actor_ids(tx, ["dublin"])
        await inbox_store.store_remote_object(tx, _version(document), dublin, via=via)
    rows = await site.sql("SELECT id FROM remote_objects WHERE iri = ?", document["id"])
    return int(rows[0][0])


async def test_what_a_parent_passed_down_is_listed_under_the_parent(site: Site) -> None:
    ireland = f"{PEER}/actors/ireland"
    await remote_store.save_actor(site.db, {
        "iri": ireland, "type": "Group", "host": "peer.example", "inbox": f"{ireland}/inbox",
        "shared_inbox": None, "username": "ireland", "name": "IOPS Ireland"}, [],
        {"id": ireland})
    row = await _remote_object(site, _question(), via=ireland)
    chapter = await _page(site, "/@dublin")
    section = chapter[chapter.index("From IOPS Ireland"):]
    assert f'href="/remote/{row}"' in section and "by Alice Peer" in section


def _question(multiple: bool = False, end: str | None = None) -> dict[str, Any]:
    key = "anyOf" if multiple else "oneOf"
    return {
        "id": f"{PEER}/questions/1", "type": "Question", "attributedTo": AUTHOR,
        "content": "<p>Where should the <b>spring</b> gathering be, now that the hall in Galway"
                   " is booked until the end of April?</p><script>x</script>",
        "published": "2026-11-01T10:00:00Z", "endTime": end or _soon(),
        "votersCount": 4, "to": [PUBLIC], "cc": [f"{AUTHOR}/followers"],
        key: [{"type": "Note", "name": "Galway", "replies": {"type": "Collection",
                                                             "totalItems": 3}},
              {"type": "Note", "name": "Limerick", "replies": {"type": "Collection",
                                                               "totalItems": 1}}],
    }


async def test_a_remote_poll_is_listed_shown_and_voted_on_through_the_outbox(
        site: Site) -> None:
    row = await _remote_object(site, _question())
    chapter = await _page(site, "/@dublin")
    assert "From Alice Peer" in chapter and f'href="/remote/{row}"' in chapter

    page = await _page(site, f"/remote/{row}")
    # A long question: the start is the title, the whole (sanitised) text follows.
    assert "<h1>Where should the spring gathering be, now that the hall in Galway is booked…</h1>" \
        in page
    assert "Where should the <b>spring</b> gathering be, now that" in page
    assert "<script>" not in page
    assert "3 votes" in page and "Total number of voters: 4" in page
    assert "Log in to vote" in page

    await log_in(site)
    page = await _page(site, f"/remote/{row}")
    assert 'action="/vote"' in page and 'type="radio"' in page
    response = await _send(site, "/vote", f"/remote/{row}",
                           [("object", f"{PEER}/questions/1"), ("choice", "Limerick")])
    assert response.status == 303 and response.headers["Location"] == f"/remote/{row}"
    sent = await site.sql(
        "SELECT a.document, d.inbox FROM deliveries d JOIN activities a"
        " ON a.id = d.activity_id WHERE a.type = 'Create'")
    assert len(sent) == 1
    create, inbox = json.loads(sent[0][0]), sent[0][1]
    ana = site.client.app[NODE].urls.actor("ana")
    assert inbox == f"{AUTHOR}/inbox"
    assert create["actor"] == ana
    note = create["object"]
    assert note["type"] == "Note" and note["name"] == "Limerick"
    assert note["inReplyTo"] == f"{PEER}/questions/1" and note["attributedTo"] == ana
    assert note["to"] == [AUTHOR] and "content" not in note
    assert "You voted: Limerick" in await _page(site, f"/remote/{row}")

    again = await _send(site, "/vote", f"/remote/{row}",
                        [("object", f"{PEER}/questions/1"), ("choice", "Galway")])
    assert again.status == 409
    assert len(await site.sql("SELECT 1 FROM deliveries")) == 1


async def test_a_remote_poll_with_several_choices_sends_one_create_each(site: Site) -> None:
    row = await _remote_object(site, _question(multiple=True))
    await log_in(site)
    response = await _send(site, "/vote", f"/remote/{row}", [
        ("object", f"{PEER}/questions/1"), ("choice", "Galway"), ("choice", "Limerick")])
    assert response.status == 303
    names = sorted(json.loads(doc)["object"]["name"] for (doc,) in await site.sql(
        "SELECT document FROM activities WHERE type = 'Create'"))
    assert names == ["Galway", "Limerick"]


async def test_a_closed_remote_poll_or_unknown_choice_sends_nothing(site: Site) -> None:
    row = await _remote_object(site, _question(end="2026-01-01T00:00:00Z"))
    await log_in(site)
    assert 'action="/vote"' not in await _page(site, f"/remote/{row}")
    closed = await _send(site, "/vote", f"/remote/{row}",
                         [("object", f"{PEER}/questions/1"), ("choice", "Galway")])
    assert closed.status == 403
    await site.sql("UPDATE remote_objects SET document = ?", json.dumps(_question()))
    unknown = await _send(site, "/vote", f"/remote/{row}",
                          [("object", f"{PEER}/questions/1"), ("choice", "Cork")])
    assert unknown.status == 400
    assert await site.sql("SELECT count(*) FROM deliveries") == [(0,)]
    assert await site.sql("SELECT count(*) FROM member_votes") == [(0,)]


def _remote_event() -> dict[str, Any]:
    return {
        "id": f"{PEER}/events/7", "type": "Event", "attributedTo": AUTHOR,
        "name": "Spring gathering", "content": "<p>Bring food.</p>",
        "startTime": _soon(20), "endTime": _soon(21), "published": "2026-11-01T10:00:00Z",
        "location": {"type": "Place", "name": "Town Hall",
                     "address": {"type": "PostalAddress", "addressLocality": "Galway"}},
        "maximumAttendeeCapacity": 30, "participantCount": 12,
        "to": [PUBLIC], "cc": [f"{AUTHOR}/followers"],
    }


async def _answer(site: Site, sender: str, join_iri: str, kind: str) -> None:
    """The organiser's Accept or Reject, applied by the inbox's handler."""

    sender_actor = await remote_store.actor(site.db, sender)
    assert sender_actor is not None
    document = {"id": f"{PEER}/answers/{kind}", "type": kind, "actor": sender,
                "object": {"id": join_iri, "type": "Join", "object": f"{PEER}/events/7"}}
    activity = parse(json.dumps(document).encode())
    async with site.db.transaction() as tx:
        await handle_answer(tx, Context(site.client.app[NODE].urls, sender_actor, None),
                            activity)


async def test_a_remote_event_is_joined_answered_and_left(site: Site) -> None:
    row = await _remote_object(site, _remote_event())
    page = await _page(site, f"/remote/{row}")
    assert "Spring gathering" in page and "Town Hall, Galway" in page
    assert "Log in to go to this event" in page
    await log_in(site)
    response = await _send(site, "/rsvp", f"/remote/{row}",
                           [("object", f"{PEER}/events/7"), ("going", "yes")])
    assert response.status == 303
    (document,), = await site.sql("SELECT document FROM activities WHERE type = 'Join'")
    join = json.loads(document)
    assert join["object"] == f"{PEER}/events/7"
    assert join["actor"] == site.client.app[NODE].urls.actor("ana")
    assert "has not answered yet" in await _page(site, f"/remote/{row}")

    # Only the organiser the Join went to decides it.
    await remote_store.save_actor(site.db, {
        "iri": f"{PEER}/users/mallory", "type": "Person", "host": "peer.example",
        "inbox": f"{PEER}/users/mallory/inbox", "shared_inbox": None, "username": "mallory",
        "name": "M"}, [], {"id": f"{PEER}/users/mallory"})
    await _answer(site, f"{PEER}/users/mallory", join["id"], "Accept")
    assert "has not answered yet" in await _page(site, f"/remote/{row}")
    await _answer(site, AUTHOR, join["id"], "Accept")
    page = await _page(site, f"/remote/{row}")
    assert "You are going · 18 places left" in page

    response = await _send(site, "/rsvp", f"/remote/{row}",
                           [("object", f"{PEER}/events/7"), ("going", "no")])
    assert response.status == 303
    (document,), = await site.sql("SELECT document FROM activities WHERE type = 'Leave'")
    assert json.loads(document)["object"] == f"{PEER}/events/7"
    assert 'name="going" value="yes"' in await _page(site, f"/remote/{row}")
    inboxes = await site.sql("SELECT inbox FROM deliveries ORDER BY id")
    assert inboxes == [(f"{AUTHOR}/inbox",), (f"{AUTHOR}/inbox",)]


async def test_a_refused_join_says_so(site: Site) -> None:
    row = await _remote_object(site, _remote_event())
    await log_in(site)
    await _send(site, "/rsvp", f"/remote/{row}",
                [("object", f"{PEER}/events/7"), ("going", "yes")])
    (document,), = await site.sql("SELECT document FROM activities WHERE type = 'Join'")
    await _answer(site, AUTHOR, json.loads(document)["id"], "Reject")
    assert "did not accept" in await _page(site, f"/remote/{row}")


async def test_remote_pages_that_do_not_exist_or_are_not_public(site: Site) -> None:
    for path in ("/remote/999", "/remote/abc", "/remote/" + "9" * 40):
        response = await site.client.get(path, headers=HTML)
        assert response.status == 404, path
    private = _question() | {"id": f"{PEER}/questions/2", "to": ["https://node.test/actors/x"],
                             "cc": []}
    row = await _remote_object(site, private)
    assert (await site.client.get(f"/remote/{row}", headers=HTML)).status == 404
    assert f"/remote/{row}" not in await _page(site, "/@dublin")
    # A member of the chapter it reached sees it.
    await log_in(site)
    assert (await site.client.get(f"/remote/{row}", headers=HTML)).status == 200


async def test_a_remote_event_is_shown_in_its_own_time_zone(site: Site) -> None:
    event = {**_remote_event(), "startTime": "2030-10-03T09:00:00Z",
             "endTime": "2030-10-03T11:30:00Z", "timezone": "Europe/Dublin"}
    row = await _remote_object(site, event)
    page = await _page(site, f"/remote/{row}")
    assert "Thursday 3 October 2030, 10:00" in page and "12:30" in page
    assert "(Europe/Dublin)" in page
    assert "Thursday 3 October 2030, 10:00" in await _page(site, "/@dublin")
    # A zone that does not exist is not trusted: the moment is shown in UTC.
    event = {**event, "id": f"{PEER}/events/8", "timezone": "Mars/Olympus"}
    row = await _remote_object(site, event)
    assert "3 October 2030, 09:00 UTC" in await _page(site, f"/remote/{row}")
