"""A decision counted up a hierarchy of chapters of one node, in this process: the same
tallies, proofs and result as between nodes, without HTTP in between."""

from __future__ import annotations

from datetime import timedelta

from actors.registry import add_member, create_chapter
from chapterhouse.services import Services
from decisions.ballots import cast_ballot
from decisions.counting import TallySettings, TallyWorker, close_due
from decisions.opening import Opening, open_decision
from decisions.views import decision_view
from hierarchy.affiliation import affiliate_local
from outbox.publish import PublishError
from storage import decisions as store
from storage.timestamps import utcnow

QUICK = TallySettings(debounce=timedelta(0), grace=timedelta(minutes=5),
                      after_close=timedelta(0))


async def _tree(node: Services) -> None:
    db, host = node.db, "127.0.0.1"
    for handle, name, level in (("world", "World", "international"),
                                ("ireland", "Ireland", "national"),
                                ("dublin", "Dublin", "local"), ("cork", "Cork", "local"),
                                ("galway", "Galway", "local")):
        await create_chapter(db, host, handle, name, level)
    for child, parent in (("ireland", "world"), ("dublin", "ireland"), ("cork", "ireland")):
        await affiliate_local(db, node.urls, child, parent, host, accept=True)
    for handle, chapter in (("aoife", "dublin"), ("brian", "dublin"), ("ciara", "dublin"),
                            ("dara", "dublin"), ("eoin", "cork"), ("fiona", "cork"),
                            ("grainne", "ireland"), ("hugh", "world"), ("ita", "galway")):
        await add_member(db, host, handle, chapter)


async def _settle(worker: TallyWorker) -> None:
    for _ in range(20):
        if not await worker.run_once():
            return
    raise AssertionError("tallies kept coming")


async def test_a_decision_counts_every_level_both_ways(services: Services) -> None:
    node = services
    await _tree(node)
    iri = await open_decision(node.db, node.urls, "world", Opening(
        question="Adopt the new charter?", options=["Yes", "No"],
        closes_at=utcnow() + timedelta(hours=1), count_method="members"))
    # Galway joins after the opening: its members have no say.
    await affiliate_local(node.db, node.urls, "galway", "ireland", "127.0.0.1", accept=True)
    for member, choice in (("aoife", "Yes"), ("brian", "Yes"), ("ciara", "No"),
                           ("eoin", "No"), ("fiona", "No"), ("grainne", "Yes")):
        await cast_ballot(node.db, iri, member, [choice], QUICK.debounce)
    # A second ballot replaces the first: one ballot per member.
    changed = await cast_ballot(node.db, iri, "ciara", ["Yes"], QUICK.debounce)
    assert not changed.first
    try:
        await cast_ballot(node.db, iri, "ita", ["Yes"], QUICK.debounce)
        raise AssertionError("a member of a chapter that joined later voted")
    except PublishError as exc:
        assert "only members of the chapters this decision was put to" in str(exc)

    worker = TallyWorker(node.db, node.urls, QUICK)
    await _settle(worker)
    decision = await store.by_iri(node.db, iri)
    assert decision is not None
    view = await decision_view(node.db, node.urls, decision, QUICK)
    options = {line.name: line for line in view.result.options}
    assert (options["Yes"].ballots, options["No"].ballots) == (4, 2)
    # By members: Dublin 4 × 3/3, Cork 2 × 2/2 the other way, Ireland 1 × 1/1, World none.
    assert (options["Yes"].weighted, options["No"].weighted) == (5.0, 2.0)
    by_name = {line.name: line for line in view.result.chapters}
    assert set(by_name) == {"World", "Ireland", "Dublin", "Cork"}
    assert (by_name["Dublin"].eligible, by_name["Dublin"].voters) == (4, 3)
    assert view.result.eligible == 8 and view.result.voters == 6
    assert not view.result_final and sorted(view.result.missing_final) == sorted(by_name)

    # The Question as peers read it: signed, with the totals and our terms.
    document = await store.local_document(node.db, iri)
    assert document is not None
    assert document["countMethod"] == "members" and document["electorateSize"] == 8
    assert [o["replies"]["totalItems"] for o in document["oneOf"]] == [4, 2]

    await close_due(node.db, now=decision.closes_at + timedelta(seconds=1))
    await _settle(worker)
    decision = await store.by_iri(node.db, iri)
    assert decision is not None and decision.closed_at is not None
    view = await decision_view(node.db, node.urls, decision, QUICK)
    assert view.result_final and view.result.missing_final == []
    assert all(line.final for line in view.result.chapters)
    document = await store.local_document(node.db, iri)
    assert document is not None and document["resultFinal"] is True
    assert document["closed"]
    # Every tally the top holds is still signed by its own chapter.
    world = await node.db.fetchvalue("SELECT id FROM actors WHERE handle = 'world'")
    for held in await store.tallies(node.db, decision.id, int(world)):
        assert held.document["proof"]["verificationMethod"].startswith(held.chapter_iri)
        assert held.final


async def test_one_decision_that_fails_does_not_stop_the_others(services: Services) -> None:
    node = services
    await _tree(node)
    opening = Opening(question="Which hall?", options=["North", "South"],
                      closes_at=utcnow() + timedelta(hours=1))
    broken = await open_decision(node.db, node.urls, "ireland", opening)
    healthy = await open_decision(node.db, node.urls, "world", opening)
    # One decision's row is damaged (as a bug or a bad restore might leave it).
    async with node.db.transaction() as tx:
        await tx.execute("UPDATE decisions SET options = 'not a list' WHERE iri = ?",
                         (broken,))
    worker = TallyWorker(node.db, node.urls, QUICK)
    await _settle(worker)
    healthy_row = await store.by_iri(node.db, healthy)
    assert healthy_row is not None
    # The other decision was counted: its result names every chapter of its scope.
    document = await store.local_document(node.db, healthy)
    assert document is not None and document["electorateSize"] == 8
    # The damaged one is tried again later, not in a loop.
    due = await node.db.fetchall(
        "SELECT p.due_at FROM decision_chapters p JOIN decisions d ON d.id = p.decision_id"
        " WHERE d.iri = ? AND p.due_at IS NOT NULL", (broken,))
    assert due and all(moment for (moment,) in due)
    assert await worker.run_once() == 0
