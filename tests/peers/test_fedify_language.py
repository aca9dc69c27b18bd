"""Fedify receives an item written in Esperanto with its contentMap keyed `eo` (and its
nameMap and summaryMap): we assert on the language tags Fedify parsed, as the issue asks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify


@pytest.fixture(scope="module")
def following(fedify: Fedify, chapter_node: Node) -> Node:
    fedify.post("/_control/follow", {"target": f"{chapter_node.base}/actors/dublin"})
    wait_for(lambda: fedify.received("Accept"), what="the Accept")
    return chapter_node


def delivered(fedify: Fedify, node: Node, *args: str, stdin: str = "") -> dict[str, Any]:
    result = node.cli("post", *args, "--chapter", "dublin", stdin=stdin)
    assert result.returncode == 0, result.stderr
    item_id = result.stdout.strip()
    [create] = wait_for(lambda: [c for c in fedify.received("Create")
                                 if c["objectId"] == item_id], what=f"Fedify to get {item_id}")
    assert create["verifiedBy"]["method"] == "http-signature"
    return dict(create["objectParsed"])


def by_language(versions: list[dict[str, Any]]) -> dict[str | None, str]:
    return {version["language"]: version["value"] for version in versions}


def test_fedify_reads_an_esperanto_item_as_esperanto(fedify: Fedify, following: Node) -> None:
    parsed = delivered(fedify, following, "news", "--language", "eo",
                       "--title", "Librofoiro sabate", "--summary", "Venu kun viaj libroj.",
                       stdin="Ni atendas *ĉiujn*.")
    assert parsed["type"] == "Article"
    contents = by_language(parsed["contents"])
    assert contents["eo"] == "<p>Ni atendas <em>ĉiujn</em>.</p>"
    assert contents[None] == contents["eo"]  # the plain content, for servers without maps
    assert by_language(parsed["names"])["eo"] == "Librofoiro sabate"
    assert by_language(parsed["summaries"])["eo"] == "Venu kun viaj libroj."


def test_the_chapters_language_reaches_fedify_unsaid(fedify: Fedify, following: Node) -> None:
    assert following.cli("chapter", "set", "dublin", "--language", "eo").returncode == 0
    try:
        parsed = delivered(fedify, following, "blog", "--title", "Saluton",
                           stdin="Bonvenon al nia filio.")
    finally:
        assert following.cli("chapter", "set", "dublin", "--language", "en").returncode == 0
    assert by_language(parsed["contents"])["eo"] == "<p>Bonvenon al nia filio.</p>"
    assert set(by_language(parsed["contents"])) == {None, "eo"}
