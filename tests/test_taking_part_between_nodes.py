"""A member of node A takes part, from A's web pages, in a poll and an event of a chapter
on node B that A's chapter follows: B counts the vote and the participation, and A shows
the member's vote, B's new totals and, once B accepted, "You are going"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.member_browser import Browser, member
from tests.nodes import Node, wait_for


def _later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node, Browser]]:
    """A: dublin with ana (logged in); B: galway, which dublin follows."""
    root = tmp_path_factory.mktemp("taking-part")
    a, b = Node.init(root, "a").federating(), Node.init(root, "b").federating()
    a.chapter("dublin", "IOPS Dublin")
    b.chapter("galway", "IOPS Galway")
    a.start()
    b.start()
    try:
        a.run("follow", f"{b.base}/actors/galway", "--as", "dublin")
        wait_for(lambda: a.sql("SELECT state FROM following") == [("accepted",)],
                 what="galway to accept dublin")
        yield a, b, member(a, root, "ana", "dublin", "Ana Byrne")
    finally:
        a.stop()
        b.stop()


def _arrived(a: Node, iri: str) -> int:
    [(row,)] = wait_for(lambda: a.sql("SELECT id FROM remote_objects WHERE iri = ?", iri),
                        what=f"A to keep {iri}")
    return int(row)


def _document(a: Node, iri: str) -> dict[str, object]:
    [(document,)] = a.sql("SELECT document FROM remote_objects WHERE iri = ?", iri)
    parsed: dict[str, object] = json.loads(document)
    return parsed


def test_a_vote_from_node_a_is_counted_by_node_b(pair: tuple[Node, Node, Browser]) -> None:
    a, b, ana = pair
    poll = b.run("post", "poll", "--chapter", "galway", "--question", "Which weekend?",
                 "--option", "First", "--option", "Second", "--closes", _later(5)).strip()
    row = _arrived(a, poll)
    assert f'href="/remote/{row}"' in ana.page("/@dublin")

    ana.submit("/vote", [("object", poll), ("choice", "Second")], page=f"/remote/{row}")
    assert wait_for(lambda: b.sql("SELECT voter, choice FROM poll_votes"),
                    what="B to count the vote") == [(f"{a.base}/actors/ana", "Second")]
    # B's Update with the new totals comes back to A, which shows them.
    wait_for(lambda: _document(a, poll).get("votersCount") == 1, what="B's new totals at A")
    page = ana.page(f"/remote/{row}")
    assert "You voted: Second" in page and "Total number of voters: 1" in page


def test_going_to_an_event_of_node_b_and_leaving_it(pair: tuple[Node, Node, Browser]) -> None:
    a, b, ana = pair
    event = b.run("post", "event", "--chapter", "galway", "--title", "Spring gathering",
                  "--start", _later(20)[:16], "--timezone", "Europe/Dublin",
                  "--place-name", "Town Hall", "--capacity", "30").strip()
    row = _arrived(a, event)

    ana.submit("/rsvp", [("object", event), ("going", "yes")], page=f"/remote/{row}")
    assert wait_for(lambda: b.sql("SELECT participant FROM event_participants"),
                    what="B to count ana") == [(f"{a.base}/actors/ana",)]
    wait_for(lambda: a.sql("SELECT state FROM member_event_joins") == [("going",)],
             what="B's Accept at A")
    wait_for(lambda: _document(a, event).get("participantCount") == 1,
             what="B's new participant count at A")
    assert "You are going · 29 places left" in ana.page(f"/remote/{row}")
    assert json.loads(b.get(event.removeprefix(b.base),
                            accept="application/activity+json").text)["participantCount"] == 1

    ana.submit("/rsvp", [("object", event), ("going", "no")], page=f"/remote/{row}")
    wait_for(lambda: b.sql("SELECT count(*) FROM event_participants") == [(0,)],
             what="B to take ana's Leave")
    assert a.sql("SELECT count(*) FROM member_event_joins") == [(0,)]
