"""A decision as Fedify (a real @fedify/fedify process, tests/peers/fedify) reads it: a
`Question` with its options, totals, voters and closing time, parsed by Fedify's own
vocabulary. Alice's vote in it, the Mastodon-shaped Create of a Note with name and
inReplyTo, is refused: only members of the chapters in the scope vote, each on their
own node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.decisions.driver import drive
from tests.nodes import Node, request, wait_for
from tests.peers.conftest import Fedify

AS2 = "application/activity+json"
BALLOTS = [("ana", ["Yes"]), ("brid", ["Yes"]), ("cathal", ["No"])]


def question(iri: str) -> dict[str, Any]:
    """The decision as its node serves it (what we compare Fedify's reading with)."""
    response = request(iri, headers={"Accept": AS2})
    assert response.status == 200, response.text[:300]
    document: dict[str, Any] = response.json()
    return document


def totals(document: dict[str, Any]) -> dict[str, int]:
    return {o["name"]: o["replies"]["totalItems"] for o in document["oneOf"]}


@pytest.fixture(scope="module")
def deciding_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("fedify-decisions")).federating()
    node.configure({"hierarchy.tally_debounce_seconds": 0.2})
    node.chapter("dublin", "IOPS Dublin")
    drive(node, {"do": "members", "members": [
        [handle, "dublin"] for handle in ("ana", "brid", "cathal", "dara")]})
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def decision(deciding_node: Node) -> str:
    """Dublin's decision, with three of its four members' ballots counted."""
    iri = drive(deciding_node, {"do": "open", "chapter": "dublin", "count": "ballots",
                                "question": "Move the bookfair to Saturday?",
                                "options": ["Yes", "No"], "closes_in": 3600})
    answers = drive(deciding_node, {"do": "vote", "decision": iri, "ballots": BALLOTS})
    assert all(answer.get("chapter") == "dublin" for answer in answers), answers
    wait_for(lambda: question(iri)["votersCount"] == 3, what="Dublin's tally")
    assert isinstance(iri, str)
    return iri


def test_fedify_reads_the_decision_as_a_question_with_totals(
    fedify: Fedify, decision: str
) -> None:
    parsed = fedify.get(f"/_control/lookup?url={decision}")
    assert parsed["ok"], parsed.get("error")
    assert parsed["type"] == "Question"
    assert parsed["name"] == "Move the bookfair to Saturday?"
    assert [(o["name"], o["totalItems"]) for o in parsed["exclusiveOptions"]] == [
        ("Yes", 2), ("No", 1)]
    assert parsed["inclusiveOptions"] == [] and parsed["multiple"] is False
    assert parsed["votersCount"] == 3
    served = question(decision)
    assert datetime.fromisoformat(parsed["endTime"].replace("Z", "+00:00")) == \
        datetime.fromisoformat(served["endTime"].replace("Z", "+00:00"))
    assert parsed["closed"] is None
    assert not parsed.get("fieldErrors"), parsed.get("fieldErrors")


def test_fedify_s_vote_is_refused_and_changes_nothing(
    fedify: Fedify, deciding_node: Node, decision: str
) -> None:
    before = totals(question(decision))
    ballots_before = deciding_node.sql("SELECT count(*) FROM ballots")
    response = request(f"{fedify.base}/_control/vote", method="POST",
                       headers={"Content-Type": "application/json"},
                       body=json.dumps({"question": decision, "choices": ["No"]}).encode())
    # Fedify looked the decision up, signed its Create{Note} and sent it: our inbox
    # refused it (502 is the control API saying the delivery was refused).
    assert response.status == 502, response.text
    sent = response.json()
    assert sent["ok"] is False and sent["status"] == 403, sent
    assert "a vote sent from elsewhere does not count" in sent["responseBody"]
    assert sent["options"] == ["Yes", "No"] and sent["unknownChoices"] == []
    after = fedify.get(f"/_control/lookup?url={decision}")
    assert [(o["name"], o["totalItems"]) for o in after["exclusiveOptions"]] == [
        ("Yes", 2), ("No", 1)]
    assert after["votersCount"] == 3
    assert totals(question(decision)) == before
    assert deciding_node.sql("SELECT count(*) FROM ballots") == ballots_before
