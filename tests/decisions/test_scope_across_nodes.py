"""A chapter of the deciding node whose parent is on another node has its say too: the
parent elsewhere invites it, although the decision itself never leaves this node for it
(the parent's Announce of our own Question is only a boost here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.nodes import Node, wait_for

AS2 = "application/activity+json"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    root = tmp_path_factory.mktemp("scope")
    a, b = Node.init(root, "a").federating(), Node.init(root, "b").federating()
    for node in (a, b):
        node.configure({"hierarchy.tally_debounce_seconds": 0.2,
                        "hierarchy.accept_subchapters_from": [a.domain, b.domain]})
    a.chapter("world", "World", "international")
    a.chapter("lyon", "Lyon", "local")
    b.chapter("france", "France", "national")
    for handle in ("lyon1", "lyon2"):
        a.run("member", "add", handle, "--chapter", "lyon")
    a.run("chapter", "organisers", "add", "lyon", "lyon1")
    for node in (a, b):
        node.spawn()
    try:
        for node in (a, b):
            node.wait_until_serving()
        b.run("chapter", "affiliate", "france", "--parent", f"{a.base}/actors/world")
        wait_for(lambda: b.get("/actors/france", accept=AS2).json().get("parent"),
                 what="France below World")
        a.run("chapter", "affiliate", "lyon", "--parent", f"{b.base}/actors/france")
        wait_for(lambda: a.get("/actors/lyon", accept=AS2).json().get("parent"),
                 what="Lyon below France")
        yield a, b
    finally:
        for node in (a, b):
            node.stop()


def test_a_chapter_below_a_parent_elsewhere_votes_in_its_grandparent_s_decision(
    nodes: tuple[Node, Node]
) -> None:
    a, _b = nodes
    iri = a.run("decide", "open", "--chapter", "world", "--question", "Merge the sites?",
                "--option", "Yes", "--option", "No", "--closes", "+1h",
                "--count", "ballots").split()[0]
    # France's Invite gives Lyon its part on World's own node.
    wait_for(lambda: a.sql("SELECT p.in_scope FROM decision_chapters p JOIN actors c"
                           " ON c.id = p.chapter_id WHERE c.handle = 'lyon'"),
             what="Lyon to take part")
    recorded = a.run("decide", "vote", iri, "--member", "lyon2", "--option", "Yes",
                     "--by", "lyon1")
    assert "ballot recorded for lyon2 in lyon" in recorded
    # Lyon's tally climbs to France on node b and back down to World here.
    def question() -> dict[str, Any]:
        document: dict[str, Any] = a.get(iri.removeprefix(a.base), accept=AS2).json()
        return document

    wait_for(lambda: question()["oneOf"][0]["replies"]["totalItems"] == 1,
             what="Lyon's ballot in World's result")
    assert "Lyon" in a.run("decide", "show", iri)
    names = {line["name"] for line in question()["breakdown"]}
    assert names == {"World", "France", "Lyon"}
