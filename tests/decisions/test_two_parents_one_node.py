"""Two parents on one node, their subchapters on another: a decision from above reaches
both parents' subchapters, though the second Announce of it brings a version the lower
node already keeps. (Found by bench/decision_close.py: the members below the second
national chapter had no say.)"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes import FEDERATING, Node, free_port, wait_for

AS2 = "application/activity+json"


def accepted(node: Node, slug: str) -> bool:
    return bool(node.sql("SELECT 1 FROM parents p JOIN actors a ON a.id = p.chapter_id"
                         " WHERE a.handle = ? AND p.state = 'accepted'", slug))


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[dict[str, Node]]:
    top, middle, low = (Node(tmp_path / name, free_port()) for name in ("top", "middle", "low"))
    quick = {**FEDERATING, "hierarchy.tally_debounce_seconds": 0.2,
             "hierarchy.late_tally_grace_seconds": 30}
    top.create({**quick, "hierarchy.accept_subchapters_from": [middle.domain]})
    middle.create({**quick, "hierarchy.accept_subchapters_from": [low.domain]})
    low.create(quick)
    top.chapter("world", "World", "international")
    middle.chapter("north", "North", "national").chapter("south", "South", "national")
    low.chapter("hill", "Hill").chapter("shore", "Shore")
    for member, chapter in (("ann", "hill"), ("dan", "shore"), ("olly", "shore")):
        low.run("member", "add", member, "--chapter", chapter)
    low.run("chapter", "organisers", "add", "hill", "olly")
    low.run("chapter", "organisers", "add", "shore", "olly")
    nodes = {"top": top, "middle": middle, "low": low}
    try:
        for node in nodes.values():
            node.start()
        for node, slug, parent, parent_slug in (
                (middle, "north", top, "world"), (middle, "south", top, "world"),
                (low, "hill", middle, "north"), (low, "shore", middle, "south")):
            node.run("chapter", "affiliate", slug, "--parent",
                     f"{parent.base}/actors/{parent_slug}")
            wait_for(functools.partial(accepted, node, slug), what=f"{slug} accepted")
        yield nodes
    finally:
        for node in nodes.values():
            if node.running():
                node.stop()


def test_a_decision_reaches_the_subchapters_of_both_parents(
        federation: dict[str, Node]) -> None:
    top, low = federation["top"], federation["low"]
    iri = top.run("decide", "open", "--chapter", "world", "--question", "Adopt the charter?",
                  "--option", "Yes", "--option", "No", "--closes", "+1h",
                  "--count", "ballots").split()[0]
    # Both local chapters take part, each under its own parent, and both have a say.
    wait_for(lambda: low.sql(
        "SELECT count(*) FROM decision_chapters p JOIN decisions d ON d.id = p.decision_id"
        " WHERE d.iri = ? AND p.in_scope", iri)[0][0] == 2,
        what="both local chapters to take part")
    for member, choice in (("ann", "Yes"), ("dan", "No")):
        low.run("decide", "vote", iri, "--member", member, "--option", choice, "--by", "olly")

    def counted() -> dict[str, int] | None:
        question = json.loads(top.sql("SELECT document FROM objects WHERE iri = ?", iri)[0][0])
        if question.get("votersCount") != 2:
            return None
        return {o["name"]: o["replies"]["totalItems"] for o in question["oneOf"]}

    assert wait_for(counted, what="both ballots counted at the top") == {"Yes": 1, "No": 1}
