"""Every AS2 document the node serves survives JSON-LD expansion with no term dropped.

Expansion uses only the contexts shipped in federation/contexts (the loader refuses any
other URL), so this also proves a peer needs nothing from us beyond the document.
"""

from __future__ import annotations

from typing import Any

import pytest

from federation import jsonld
from storage.paging import Cursor, encode
from tests.nodes import Node

AS2 = "application/activity+json"

SERVED = [
    "/actor", "/actors/dublin", "/actors/ireland", "/actors/cork", "/actors/ana",
    "/actor/outbox", "/actors/dublin/outbox?page=1", "/actors/dublin/followers",
    # a page in the middle, with `prev` and `next`
    f"/actors/ireland/followers?cursor={encode(Cursor((30,), True))}",
    "/actors/ana/following?page=1",
    "/actors/dublin/subchapters", "/actors/dublin/subchapters?page=1",
]


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every key with a non-null value, lists flattened, @context skipped."""
    paths: set[str] = set()
    if isinstance(value, list):
        for item in value:
            paths |= key_paths(item, prefix)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "@context" or item is None:
                continue
            paths.add(prefix + key)
            paths |= key_paths(item, f"{prefix}{key}.")
    return paths


def expanded_properties(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= expanded_properties(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            found |= expanded_properties(item)
    return found


@pytest.mark.parametrize("path", SERVED)
def test_no_term_is_dropped_or_left_undefined(node: Node, path: str) -> None:
    document = node.get(path, accept=AS2).json()
    expanded = jsonld.expand(document)
    assert expanded, "expansion produced nothing"

    # AS2's context maps unknown terms to blank-node IRIs ("_:term") instead of dropping
    # them; either way the term means nothing to a peer.
    properties = expanded_properties(expanded)
    undefined = sorted(p for p in properties if p.startswith("_:"))
    assert undefined == [], f"terms without a definition: {undefined}"
    assert all(p.startswith("@") or "://" in p for p in properties), properties

    # Compacting the expansion with the same context must give back every key we sent.
    compacted = jsonld.compact(expanded, document["@context"])
    assert key_paths(compacted) == key_paths(document)


def test_a_term_missing_from_the_context_is_caught() -> None:
    # The check above must be able to fail: a document with an undefined term.
    document = {"@context": ["https://www.w3.org/ns/activitystreams"],
                "id": "https://a.example/x", "type": "Group", "level": "local"}
    assert "_:level" in expanded_properties(jsonld.expand(document))


def test_the_loader_never_goes_to_the_network() -> None:
    document = {"@context": "https://example.org/some-context.jsonld", "id": "https://a.example/"}
    with pytest.raises(Exception) as caught:  # pyld wraps the loader's error
        jsonld.expand(document)
    causes = []
    error: BaseException | None = caught.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, jsonld.ContextNotShipped) for e in causes)
