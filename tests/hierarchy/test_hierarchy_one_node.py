"""Chapters of one node joining each other on a default node (private addresses refused,
as in production): no request to ourselves, yet the same result as between nodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.nodes import Node

AS2 = "application/activity+json"
HINT = "set allow_private_addresses = true under [federation] in config.toml"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("one"))
    assert "allow_private_addresses = false" in (node.data / "config.toml").read_text()
    node.chapter("leinster", "Leinster", "regional", "--location", "Leinster place")
    node.chapter("dublin", "Dublin", "local", "--location", "Dublin place")
    node.chapter("cork", "Cork", "local")
    node.chapter("kerry", "Kerry", "local")  # never joins anything
    node.start()
    yield node
    node.stop()


def actor(node: Node, slug: str) -> str:
    return f"{node.base}/actors/{slug}"


def updates(node: Node, slug: str) -> list[dict[str, Any]]:
    """The Updates of its own actor document in a chapter's outbox, newest first."""
    page = node.get(f"/actors/{slug}/outbox?page=1", accept=AS2).json()
    return [a for a in page["orderedItems"]
            if a["type"] == "Update" and a["object"]["id"] == actor(node, slug)]


def section(page: str, css_class: str) -> str:
    _, found, rest = page.partition(f'<section class="{css_class}">')
    return found + rest.partition("</section>")[0]


def test_chapters_of_one_node_join_accept_and_leave(node: Node) -> None:
    result = node.cli("chapter", "affiliate", "dublin", "--parent", actor(node, "leinster"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"asked to join {actor(node, 'leinster')}")
    assert f"chapter accept leinster {actor(node, 'dublin')}" in result.stdout
    requests = node.cli("chapter", "requests", "leinster").stdout
    assert actor(node, "dublin") in requests and "requested" in requests

    result = node.cli("chapter", "accept", "leinster", actor(node, "dublin"))
    assert result.returncode == 0, result.stderr
    assert node.get("/actors/dublin", accept=AS2).json()["parent"] == actor(node, "leinster")
    page = node.get("/actors/leinster/subchapters?page=1", accept=AS2).json()
    assert page["orderedItems"] == [actor(node, "dublin")]
    # Both sides tell their followers, with the new document.
    assert updates(node, "dublin")[0]["object"]["parent"] == actor(node, "leinster")
    assert len(updates(node, "leinster")) == 1
    # The pages show the link both ways, with names, not ids.
    newest = section(node.get("/@leinster", accept="text/html").text, "subchapters")
    assert f'href="{actor(node, "dublin")}"' in newest and "Dublin place" in newest
    dublin_page = node.get("/@dublin", accept="text/html").text
    assert f'Part of</dt><dd><a href="{actor(node, "leinster")}">Leinster</a>' in dublin_page

    # By handle too; and leaving undoes the link on both sides.
    result = node.cli("chapter", "affiliate", "cork", "--parent", f"@leinster@{node.domain}")
    assert result.returncode == 0, result.stderr
    result = node.cli("chapter", "leave", "dublin")
    assert result.returncode == 0, result.stderr
    assert "parent" not in node.get("/actors/dublin", accept=AS2).json()
    assert node.get("/actors/leinster/subchapters", accept=AS2).json()["totalItems"] == 0
    assert len(updates(node, "leinster")) == 2
    # Nothing went over HTTP to ourselves, so nothing waits for a delivery either.
    assert node.sql("SELECT count(*) FROM deliveries") == [(0,)]


@pytest.mark.parametrize("parent", [
    "http://127.0.0.2:9/actors/wexford",  # another node on a private address
    "http://localhost:9/actors/wexford",  # a name for one
    "@wexford@10.0.0.1:9",  # a handle, looked up by WebFinger
])
def test_a_private_parent_elsewhere_names_the_setting_that_allows_it(
    node: Node, parent: str
) -> None:
    result = node.cli("chapter", "affiliate", "kerry", "--parent", parent)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "non-public address" in result.stderr or "no public address" in result.stderr
    assert HINT in result.stderr
