"""Every AS2 document the node serves survives JSON-LD expansion with no term dropped.

Expansion uses only the contexts shipped in federation/contexts (the loader refuses any
other URL), so this also proves a peer needs nothing from us beyond the document.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from actors.registry import add_member, create_chapter
from chapterhouse.services import Services
from decisions.ballots import cast_ballot
from decisions.counting import TallySettings, TallyWorker, close_due, tallies_add
from decisions.opening import Opening, open_decision
from federation import jsonld
from federation.vocab import NAMESPACE
from hierarchy.affiliation import affiliate_local
from storage import decisions as decision_store
from storage.paging import Cursor, encode
from storage.timestamps import utcnow
from tests.nodes import Node
from tests.outbox.conftest import services as services  # the fixture, used by name

AS = "https://www.w3.org/ns/activitystreams#"
SEC = "https://w3id.org/security#"

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


# Decisions: the Question and an Add of tallies, made by the code that sends them on a
# node in this process (a decision counted up world > ireland > dublin and closed).

async def _decision_documents(node: Services) -> tuple[dict[str, Any], dict[str, Any]]:
    db, host, urls = node.db, "127.0.0.1", node.urls
    for handle, level in (("world", "international"), ("ireland", "national"),
                          ("dublin", "local")):
        await create_chapter(db, host, handle, handle.title(), level)
    for child, parent in (("ireland", "world"), ("dublin", "ireland")):
        await affiliate_local(db, urls, child, parent, host, accept=True)
    for member, chapter in (("aoife", "dublin"), ("brian", "dublin"), ("grainne", "ireland")):
        await add_member(db, host, member, chapter)
    iri = await open_decision(db, urls, "world", Opening(
        question="Adopt the charter?", options=["Yes", "No"],
        closes_at=utcnow() + timedelta(hours=1), count_method="members", language="en"))
    quick = TallySettings(debounce=timedelta(0), after_close=timedelta(0))
    for member, choice in (("aoife", "Yes"), ("brian", "No"), ("grainne", "Yes")):
        await cast_ballot(db, iri, member, [choice], quick.debounce)
    worker = TallyWorker(db, urls, quick)
    decision = await decision_store.by_iri(db, iri)
    assert decision is not None
    await close_due(db, now=decision.closes_at + timedelta(seconds=1))
    for _ in range(20):  # until the final tallies have climbed and the result is out
        if not await worker.run_once():
            break
    question = await decision_store.local_document(db, iri)
    assert question is not None and question["resultFinal"] is True
    world = await db.fetchvalue("SELECT id FROM actors WHERE handle = 'world'")
    held = {t.chapter_iri: t.document for t in await decision_store.tallies(
        db, decision.id, int(world))}
    add = tallies_add(urls, urls.actor("ireland"), urls.actor("world"), iri,
                      [held[urls.actor("ireland")], held[urls.actor("dublin")]])
    return question, add


def _ours(term: str) -> str:
    return NAMESPACE + term


def _proof_is_a_graph(node: dict[str, Any]) -> None:
    [proof] = node[SEC + "proof"]
    assert set(proof) == {"@graph"}, proof
    [inner] = proof["@graph"]
    assert inner["@type"] == [SEC + "DataIntegrityProof"]
    assert inner[SEC + "cryptosuite"][0]["@value"] == "eddsa-jcs-2022"


async def test_a_decision_and_an_add_of_tallies_expand_to_our_terms(
    services: Services,
) -> None:
    question, add = await _decision_documents(services)
    for document in (question, add):
        expanded = jsonld.expand(document)
        properties = expanded_properties(expanded)
        assert sorted(p for p in properties if p.startswith("_:")) == []
        compacted = jsonld.compact(expanded, document["@context"])
        assert key_paths(compacted) == key_paths(document)

    [node] = jsonld.expand(question)
    assert node["@type"] == [AS + "Question"]
    for term in ("countMethod", "electorateSize", "scope", "breakdown", "resultFinal"):
        assert _ours(term) in node, term
    assert node[_ours("countMethod")] == [{"@value": "members"}]
    assert node[_ours("resultFinal")] == [{"@value": True}]
    assert {entry["@id"] for entry in node[_ours("scope")]} == {
        services.urls.actor(h) for h in ("world", "ireland", "dublin")}
    for option in node[AS + "oneOf"]:
        assert _ours("weightedVotes") in option
    for line in node[_ours("breakdown")]:
        assert {_ours(t) for t in ("chapter", "eligible", "voters", "ballots", "final",
                                   "late")} <= set(line)
        assert "@id" in line[_ours("chapter")][0]
    _proof_is_a_graph(node)

    [activity] = jsonld.expand(add)
    assert activity["@type"] == [AS + "Add"]
    tallies = activity[AS + "object"]
    assert [tally["@type"] for tally in tallies] == [[_ours("Tally")], [_ours("Tally")]]
    for tally in tallies:
        for term in ("eligible", "voters", "ballots", "final", "subchapters"):
            assert _ours(term) in tally, term
        assert tally[AS + "attributedTo"][0]["@id"].startswith(services.urls.actor(""))
        _proof_is_a_graph(tally)
    ireland = next(t for t in tallies
                   if t[AS + "attributedTo"][0]["@id"] == services.urls.actor("ireland"))
    assert ireland[_ours("subchapters")] == [{"@id": services.urls.actor("dublin")}]
