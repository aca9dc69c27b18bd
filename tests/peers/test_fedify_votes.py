"""A member of a real node votes from the web in a poll Fedify (alice) published and
addressed to the member's chapter: the poll shows on the chapter page and on its own
page, and alice gets the Mastodon-shaped vote, signed by the member and verified by
Fedify. The same member goes to alice's event (Join, accepted by Fedify) and leaves it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.member_browser import Browser, member
from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify

LATER = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def ana(chapter_node: Node, tmp_path_factory: pytest.TempPathFactory) -> Browser:
    return member(chapter_node, tmp_path_factory.mktemp("secrets"), "ana", "dublin",
                  "Ana Byrne")


def _published(fedify: Fedify, node: Node, name: str, options: list[str],
               multiple: bool = False) -> tuple[str, int]:
    """alice's Question to the dublin chapter, and its row on the node."""
    sent = fedify.post("/_control/question", {
        "name": name, "options": options, "multiple": multiple, "endTime": LATER,
        "to": [f"{node.base}/actors/dublin"]})
    question = sent["questionId"]
    [(row,)] = wait_for(lambda: node.sql("SELECT id FROM remote_objects WHERE iri = ?",
                                         question), what="the node to keep the Question")
    return question, int(row)


def _votes(fedify: Fedify, question: str) -> list[dict[str, object]]:
    return [c for c in fedify.received("Create")
            if (c.get("objectParsed") or {}).get("inReplyTo") == question]


def test_a_member_votes_in_alices_poll_from_the_chapter_page(
    fedify: Fedify, chapter_node: Node, ana: Browser
) -> None:
    question, row = _published(fedify, chapter_node, "Which city for the congress?",
                               ["Galway", "Sligo"])
    chapter = ana.page("/@dublin")
    assert f'href="/remote/{row}"' in chapter
    assert "From Alice (Fedify peer)" in chapter

    page = ana.page(f"/remote/{row}")
    assert "Which city for the congress?" in page
    assert 'type="radio"' in page and 'value="Sligo"' in page
    location = ana.submit("/vote", [("object", question), ("choice", "Sligo")],
                          page=f"/remote/{row}")
    assert location == f"/remote/{row}"
    assert "You voted: Sligo" in ana.page(f"/remote/{row}")

    [vote] = wait_for(lambda: _votes(fedify, question), what="alice to get the vote")
    ana_iri = f"{chapter_node.base}/actors/ana"
    assert vote["actor"] == ana_iri
    assert vote["verifiedBy"]["method"] == "http-signature"
    note = vote["objectParsed"]
    assert note["type"] == "Note" and note["name"] == "Sligo"
    assert note["attributedTo"] == ana_iri
    assert note["to"] == [fedify.alice]
    assert not note.get("content")

    # A second vote is refused here and never reaches alice.
    status, _, body = ana.send("POST", "/vote", [
        ("object", question), ("choice", "Galway"),
        ("csrf_token", re.findall(r'name="csrf_token" value="([^"]+)"',
                                  ana.page(f"/remote/{row}"))[0])])
    assert status == 409, body[:300]
    assert len(_votes(fedify, question)) == 1


def test_several_choices_go_as_one_create_each(
    fedify: Fedify, chapter_node: Node, ana: Browser
) -> None:
    question, row = _published(fedify, chapter_node, "Which workshops?",
                               ["Housing", "Unions", "Media"], multiple=True)
    assert 'type="checkbox"' in ana.page(f"/remote/{row}")
    ana.submit("/vote", [("object", question), ("choice", "Housing"), ("choice", "Media")],
               page=f"/remote/{row}")
    votes = wait_for(lambda: v if len(v := _votes(fedify, question)) == 2 else None,
                     what="alice to get both choices")
    assert sorted(v["objectParsed"]["name"] for v in votes) == ["Housing", "Media"]


def test_a_member_goes_to_alices_event_and_leaves_it(
    fedify: Fedify, chapter_node: Node, ana: Browser
) -> None:
    sent = fedify.post("/_control/event", {
        "name": "Bookfair picnic", "startTime": LATER,
        "to": [f"{chapter_node.base}/actors/dublin"]})
    event = sent["eventId"]
    [(row,)] = wait_for(lambda: chapter_node.sql(
        "SELECT id FROM remote_objects WHERE iri = ?", event), what="the node to keep the Event")
    assert f'href="/remote/{row}"' in ana.page("/@dublin")

    ana.submit("/rsvp", [("object", event), ("going", "yes")], page=f"/remote/{row}")
    ana_iri = f"{chapter_node.base}/actors/ana"
    # Recorded as it arrives; the listener's answer is noted once it is sent.
    [join] = wait_for(lambda: [j for j in fedify.received("Join")
                               if j["objectId"] == event and "autoAccept" in j],
                      what="alice to get and answer the Join")
    assert join["actor"] == ana_iri
    assert join["verifiedBy"]["method"] == "http-signature"
    assert join["autoAccept"]["ok"], join["autoAccept"]
    wait_for(lambda: "You are going" in ana.page(f"/remote/{row}"), what="alice's Accept")

    ana.submit("/rsvp", [("object", event), ("going", "no")], page=f"/remote/{row}")
    wait_for(lambda: fedify.get("/_control/participants")[event] == [],
             what="alice to take the Leave")
    [leave] = [x for x in fedify.received("Leave") if x["objectId"] == event]
    assert leave["actor"] == ana_iri and leave["verifiedBy"]["method"] == "http-signature"
    assert 'name="going" value="yes"' in ana.page(f"/remote/{row}")
