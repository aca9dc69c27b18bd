"""Decisions between real node processes: an international chapter with two national ones
below it on node A, local chapters on nodes B, C and D, 42 members. Ballots stay on each
local node; signed tallies climb over HTTP to A, which publishes the result as the
decision's `Question`. Decisions are opened with `chapterhouse decide open`; Dublin's
members vote through the web form, logged in on their node, Cork's ballots are entered
from paper by its organiser (`decide vote --by`), and the other chapters' ballots go
through the same cast_ballot path in bulk (tests/decisions/driver.py). Everything is
checked as a peer or a person reads it: the Question A serves, the decision's page and
`decide show`.

The national chapters live on A with the international one: the climb from a national
chapter to the top then runs inside one node (the path a node holding several levels
takes), while every local → national step crosses HTTP, and one process fewer keeps the
module quick on two cores.
"""

from __future__ import annotations

import json
import re
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from decisions.wire import DECISION_CONTEXT
from federation.proofs import add_proof
from federation.signatures import load_private_key
from hierarchy.tallies import tally_document
from tests.decisions.driver import drive
from tests.hierarchy.test_hierarchy import signed_post as hierarchy_signed_post
from tests.member_browser import Browser, member
from tests.nodes import Node, request, wait_for

AS2 = "application/activity+json"
GRACE = 6  # seconds after the close in which a tally still counts without being late
# slug: (node, name, level, parent at the start; None: no parent, or one only later)
CHAPTERS = {
    "world": ("a", "World", "international", None),
    "ireland": ("a", "Ireland", "national", "world"),
    "france": ("a", "France", "national", "world"),
    "dublin": ("b", "Dublin", "local", "ireland"),
    "cork": ("b", "Cork", "local", "ireland"),
    "paris": ("c", "Paris", "local", "france"),
    "lyon": ("d", "Lyon", "local", "france"),
    "galway": ("d", "Galway", "local", None),  # joins Ireland after the opening
}
SIZES = {"world": 2, "ireland": 3, "france": 2, "dublin": 10, "cork": 6, "paris": 8,
         "lyon": 7, "galway": 4}
# The international decision's ballots, per chapter: the n-th entry is member n's.
PLAN = {
    "world": ["Adopt"],
    "ireland": ["Reject", "Reject"],
    "france": [],
    "dublin": ["Adopt", "Adopt", "Adopt"],
    "cork": ["Reject", "Reject", "Reject", "Reject", "Adopt"],
    "paris": ["Reject", "Reject", "Adopt", "Adopt"],
    "lyon": ["Reject", "Reject", "Reject", "Reject", "Reject", "Adopt"],
}
OPTIONS = ["Adopt", "Reject"]
# Members with an account, who log in and vote on the web (the first ones of a chapter).
ACCOUNTS = {"dublin": 3, "galway": 1}
PAPER = {"cork": "cork1"}  # the organiser who enters the chapter's paper ballots


def members(slug: str) -> list[str]:
    return [f"{slug}{n}" for n in range(1, SIZES[slug] + 1)]


@dataclass
class Federation:
    nodes: dict[str, Node]
    browsers: dict[str, Browser] = field(default_factory=dict)  # members logged in

    def node(self, slug: str) -> Node:
        return self.nodes[CHAPTERS[slug][0]]

    def actor(self, slug: str) -> str:
        return f"{self.node(slug).base}/actors/{slug}"

    def vote(self, decision: str, slug: str, ballots: list[tuple[str, list[str]]]
             ) -> list[dict[str, Any]]:
        return drive(self.node(slug), {"do": "vote", "decision": decision,
                                       "ballots": ballots})

    def open(self, slug: str, question: str, closes_in: int, count: str,
             options: list[str] | None = None) -> str:
        """`decide open`: the decision's id."""
        node = self.node(slug)
        output = node.run("decide", "open", "--chapter", slug, "--question", question,
                          *(f"--option={option}" for option in options or OPTIONS),
                          "--closes", f"+{closes_in}s", "--count", count)
        iri, page = output.split()
        assert iri.startswith(node.base) and page.startswith(f"{node.base}/decisions/")
        return iri

    def paper(self, decision: str, slug: str, ballots: list[tuple[str, list[str]]]
              ) -> list[str]:
        """`decide vote --by` the chapter's organiser, one paper ballot at a time."""
        return [self.node(slug).run("decide", "vote", decision, "--member", member,
                                    *(f"--option={c}" for c in choices),
                                    "--by", PAPER[slug]).strip()
                for member, choices in ballots]

    def page_of(self, slug: str, decision: str) -> str:
        """The decision's page on the chapter's node (its own row id there)."""
        [(row,)] = wait_for(lambda: self.node(slug).sql(
            "SELECT id FROM decisions WHERE iri = ?", decision),
            what=f"{slug}'s node to hold the decision")
        return f"/decisions/{row}"

    def web_vote(self, decision: str, member: str, choices: list[str]) -> str:
        """The member votes through the form on the decision's page; the page they see
        after the redirect."""
        browser = self.browsers[member]
        page = self.page_of(member.rstrip("0123456789"), decision)
        location = browser.submit(f"{page}/ballot", [("option", c) for c in choices],
                                  page=page)
        assert location.startswith(page), location
        return browser.page(location)


def show(node: Node, decision: str) -> dict[str, Any]:
    """`decide show` as a person reads it: the options table (ballots and weighted
    votes), each chapter's tally state, and the missing final tallies."""
    text = node.run("decide", "show", decision)
    options, states, missing = {}, {}, []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in [*OPTIONS, "Yes", "No"] and len(words) == 5:
            options[words[0]] = (int(words[1]), float(words[3]))
        elif words and words[0] in {name for _n, name, _l, _p in CHAPTERS.values()} \
                and len(words) >= 6:
            states[words[0]] = " ".join(words[5:])
        elif line.startswith("missing final tallies: "):
            missing = line.removeprefix("missing final tallies: ").split(", ")
    return {"text": text, "options": options, "states": states, "missing": missing}


def question(iri: str) -> dict[str, Any]:
    """The decision as any peer fetches it from its deciding node."""
    response = request(iri, headers={"Accept": AS2})
    assert response.status == 200, response.text[:300]
    document: dict[str, Any] = response.json()
    return document


def breakdown(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["name"]: line for line in document["breakdown"]}


def totals(document: dict[str, Any]) -> dict[str, int]:
    return {o["name"]: o["replies"]["totalItems"]
            for o in document.get("oneOf") or document["anyOf"]}


def has_parent(node: Node, slug: str, parent: str) -> bool:
    return node.get(f"/actors/{slug}", accept=AS2).json().get("parent") == parent


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("decisions")
    nodes = {name: Node.init(root, name).federating() for name in "abcd"}
    federation = Federation(nodes)
    hosts = [node.domain for node in nodes.values()]
    for node in nodes.values():
        node.configure({"hierarchy.tally_debounce_seconds": 0.2,
                        "hierarchy.late_tally_grace_seconds": GRACE,
                        "hierarchy.accept_subchapters_from": hosts})
    for slug, (where, name, level, _parent) in CHAPTERS.items():
        nodes[where].chapter(slug, name, level)
    for where, node in nodes.items():
        drive(node, {"do": "members", "members": [
            [handle, slug] for slug, spec in CHAPTERS.items() if spec[0] == where
            for handle in members(slug)[ACCOUNTS.get(slug, 0):]]})
    secrets = root / "secrets"
    secrets.mkdir()
    for node in nodes.values():
        node.spawn()
    try:
        for node in nodes.values():
            node.wait_until_serving()
        for slug, count in ACCOUNTS.items():
            for handle in members(slug)[:count]:
                federation.browsers[handle] = member(federation.node(slug), secrets, handle,
                                                     slug, handle.title())
        for slug, organiser in PAPER.items():
            federation.node(slug).run("chapter", "organisers", "add", slug, organiser)
        for slug, (_where, _name, _level, parent) in CHAPTERS.items():
            if parent is not None:
                federation.node(slug).run("chapter", "affiliate", slug, "--parent",
                                          federation.actor(parent))
        for slug, (_where, _name, _level, parent) in CHAPTERS.items():
            if parent is not None:
                wait_for(partial(has_parent, federation.node(slug), slug,
                                 federation.actor(parent)), what=f"{slug}'s parent")
        yield federation
    finally:
        for node in nodes.values():
            if node.running():
                node.stop()


def expected_result(plan: dict[str, list[str]]) -> dict[str, Any]:
    """The result worked out by hand from the ballots cast: by ballots, the sum; by members,
    each chapter's eligible members split as its voters chose."""
    ballots = {option: sum(chosen.count(option) for chosen in plan.values())
               for option in OPTIONS}
    weighted = {option: sum(SIZES[slug] * chosen.count(option) / len(chosen)
                            for slug, chosen in plan.items() if chosen)
                for option in OPTIONS}
    return {"ballots": ballots, "weighted": weighted,
            "voters": sum(len(chosen) for chosen in plan.values()),
            "eligible": sum(SIZES[slug] for slug in plan)}


@pytest.fixture(scope="module")
def international(fed: Federation) -> str:
    """A decision of World, counted by members, open for about half a minute: Galway
    joins Ireland just after it opens; dublin1 votes twice."""
    iri = fed.open("world", "Adopt the 2027 campaign plan?", closes_in=30, count="members")
    # The wire says whole seconds and the opening is the end of its second: Galway asks
    # once that moment has passed, so it is after the opening on every node.
    opened = datetime.fromisoformat(question(iri)["published"].replace("Z", "+00:00"))
    wait_for(lambda: datetime.now(UTC) > opened + timedelta(milliseconds=300),
             what="the opening moment to pass", every=0.05)
    fed.node("galway").run("chapter", "affiliate", "galway", "--parent",
                           fed.actor("ireland"))
    assert "Your ballot was recorded." in fed.web_vote(iri, "dublin1", ["Reject"])
    for slug, chosen in PLAN.items():
        ballots = list(zip(members(slug), [[c] for c in chosen], strict=False))
        if slug == "dublin":
            for handle, choices in ballots:
                seen = fed.web_vote(iri, handle, choices)
                assert ("Your ballot was changed." if handle == "dublin1" else
                        "Your ballot was recorded.") in seen
                assert f"You voted for {choices[0]} on" in seen
        elif slug in PAPER:
            assert fed.paper(iri, slug, ballots) == [
                f"ballot recorded for {handle} in {slug} (entered by {PAPER[slug]})"
                for handle, _choices in ballots]
        else:
            answers = fed.vote(iri, slug, ballots)
            assert all(answer.get("chapter") == slug for answer in answers), answers
    return iri


def test_an_international_decision_counts_both_ways(
    fed: Federation, international: str
) -> None:
    want = expected_result(PLAN)
    # Hand check of the figures, so that the test says what it expects:
    assert want["ballots"] == {"Adopt": 8, "Reject": 13}
    assert want["weighted"]["Adopt"] == pytest.approx(2 + 10 + 1.2 + 4 + 7 / 6)
    document = wait_for(lambda: d if (d := question(international))["votersCount"]
                        == want["voters"] and len(d["breakdown"]) == len(PLAN) else None,
                        timeout=30, what="every chapter's tally at the top")
    assert totals(document) == want["ballots"]
    weighted = {o["name"]: o["weightedVotes"] for o in document["oneOf"]}
    for option in OPTIONS:
        assert weighted[option] == pytest.approx(want["weighted"][option], abs=1e-3)
    # The two methods disagree here: Reject has more ballots, Adopt the larger say.
    assert weighted["Adopt"] > weighted["Reject"]
    assert document["countMethod"] == "members"
    assert document["electorateSize"] == want["eligible"] == 38
    assert sorted(document["scope"]) == sorted(fed.actor(slug) for slug in PLAN)
    lines = breakdown(document)
    for slug, chosen in PLAN.items():
        line = lines[CHAPTERS[slug][1]]
        assert (line["eligible"], line["voters"]) == (SIZES[slug], len(chosen)), slug
        assert {b["name"]: b["totalItems"] for b in line["ballots"]} == {
            option: chosen.count(option) for option in OPTIONS}, slug
        assert line["final"] is False
    assert document["resultFinal"] is False and "closed" not in document
    # Every node in between shows the same figures: Dublin's node reads them from the
    # Question that came down to it.
    shown = show(fed.node("dublin"), international)
    for option in OPTIONS:
        assert shown["options"][option][0] == want["ballots"][option]
        assert shown["options"][option][1] == pytest.approx(want["weighted"][option],
                                                            abs=1e-3)
    assert f"voters:     {want['voters']}" in shown["text"]
    assert "Dublin: 3 of 10 members voted (Adopt 3, Reject 0)" in shown["text"]
    # The decision's page at the top, as anyone reads it.
    page = fed.node("world").get(fed.page_of("world", international),
                                 accept="text/html").text
    assert "Adopt the 2027 campaign plan?" in page and "Log in to vote" in page
    assert "21 of 38 eligible members voted" in page


def test_a_member_who_votes_twice_has_one_ballot(fed: Federation, international: str) -> None:
    b = fed.node("dublin")
    rows = b.sql("SELECT a.handle, b.choices FROM ballots b JOIN actors a ON a.id = b.member_id"
                 " JOIN decisions d ON d.id = b.decision_id WHERE d.iri = ?"
                 " AND a.handle = 'dublin1'", international)
    assert len(rows) == 1 and json.loads(rows[0][1]) == ["Adopt"]
    # The top counts dublin1 once, for the option of the second ballot.
    line = breakdown(question(international))["Dublin"]
    assert line["voters"] == 3 and {x["name"]: x["totalItems"] for x in line["ballots"]} == {
        "Adopt": 3, "Reject": 0}


def test_a_chapter_that_joined_after_the_opening_has_no_say(
    fed: Federation, international: str
) -> None:
    wait_for(lambda: has_parent(fed.node("galway"), "galway", fed.actor("ireland")),
             what="Galway to join Ireland")

    def refusal() -> str | None:
        [answer] = fed.vote(international, "galway", [("galway1", ["Adopt"])])
        assert "refused" in answer, answer
        return answer["refused"] if "joined its parent" in answer["refused"] else None

    # The decision reaches Galway with the next version Ireland passes down; its members
    # see it but are refused with the reason.
    assert "Galway joined its parent after this decision opened" in wait_for(
        refusal, timeout=30, every=0.5, what="the decision to reach Galway")
    assert fed.node("galway").sql(
        "SELECT p.in_scope FROM decision_chapters p JOIN decisions d ON d.id = p.decision_id"
        " JOIN actors a ON a.id = p.chapter_id WHERE d.iri = ? AND a.handle = 'galway'",
        international) in ([(0,)], [(False,)])
    # On the web, logged in on Galway's node: the reason, and no ballot taken.
    galway1 = fed.browsers["galway1"]
    path = fed.page_of("galway", international)
    page = galway1.page(path)
    assert "Galway joined its parent after this decision opened" in page
    assert f'action="{path}/ballot"' not in page
    token = re.findall(r'name="csrf_token" value="([^"]+)"', page)[0]
    status, _location, body = galway1.send("POST", f"{path}/ballot", [
        ("option", "Adopt"), ("csrf_token", token)])
    assert status == 403, body[:300]
    assert fed.node("galway").sql(
        "SELECT count(*) FROM ballots b JOIN actors a ON a.id = b.chapter_id"
        " WHERE a.handle = 'galway'") == [(0,)]
    document = question(international)
    assert "Galway" not in breakdown(document)
    assert fed.actor("galway") not in document["scope"]


def test_a_local_decision_counts_only_its_members(fed: Federation) -> None:
    iri = fed.open("dublin", "Paint the office red?", closes_in=300, count="ballots",
                   options=["Yes", "No"])
    chosen = ["Yes", "Yes", "No", "Yes", "No", "Yes"]
    answers = fed.vote(iri, "dublin", list(zip(members("dublin"), [[c] for c in chosen],
                                               strict=False)))
    assert all(answer.get("chapter") == "dublin" for answer in answers), answers
    # Cork, on the same node, and Ireland's own members have no say; Paris's node does
    # not even hold the decision.
    for slug in ("cork", "ireland", "paris"):
        [answer] = fed.vote(iri, slug, [(members(slug)[0], ["No"])])
        assert "refused" in answer, (slug, answer)
    [cork] = fed.vote(iri, "cork", [("cork1", ["No"])])
    assert "only members of the chapters this decision was put to" in cork["refused"]
    document = wait_for(lambda: d if (d := question(iri))["votersCount"] == 6 else None,
                        what="Dublin's tally")
    assert totals(document) == {"Yes": 4, "No": 2}
    assert document["electorateSize"] == SIZES["dublin"]
    assert document["scope"] == [fed.actor("dublin")]
    assert list(breakdown(document)) == ["Dublin"]
    # Its tallies never leave Dublin: Ireland holds nothing of it.
    assert fed.node("ireland").sql(
        "SELECT count(*) FROM tallies t JOIN decisions d ON d.id = t.decision_id"
        " WHERE d.iri = ?", iri) == [(0,)]


def test_the_final_result_at_the_top(fed: Federation, international: str) -> None:
    document = wait_for(lambda: d if (d := question(international)).get("resultFinal")
                        else None, timeout=60, what="the final result")
    assert "closed" in document
    want = expected_result(PLAN)
    assert totals(document) == want["ballots"]
    lines = breakdown(document)
    assert set(lines) == {CHAPTERS[slug][1] for slug in PLAN}
    assert all(line["final"] and not line["late"] for line in lines.values()), lines
    shown = show(fed.node("world"), international)
    assert "final result: Adopt" in shown["text"] and shown["missing"] == []
    assert set(shown["states"].values()) == {"final"}
    page = fed.node("world").get(fed.page_of("world", international),
                                 accept="text/html").text
    assert "Closed: this is the final result." in page and "Decided: Adopt" in page


def signed_post(target: Node, sender: str, fed: Federation, body: dict[str, Any]) -> int:
    """POST to target's inbox, HTTP-signed with the sending chapter's real RSA key."""
    return hierarchy_signed_post(target, fed.node(sender), sender, body)


def held_at_top(fed: Federation, iri: str) -> list[tuple[Any, ...]]:
    return fed.node("world").sql(
        "SELECT a.handle, t.chapter_iri, t.document, t.published, t.final, t.late"
        " FROM tallies t JOIN decisions d ON d.id = t.decision_id"
        " JOIN actors a ON a.id = t.holder_id WHERE d.iri = ?"
        " ORDER BY a.handle, t.chapter_iri", iri)


def own_tally(fed: Federation, slug: str, iri: str) -> dict[str, Any]:
    [(document,)] = fed.node(slug).sql(
        "SELECT t.document FROM tallies t JOIN decisions d ON d.id = t.decision_id"
        " JOIN actors a ON a.id = t.holder_id WHERE d.iri = ? AND a.handle = ?"
        " AND t.chapter_iri = ?", iri, slug, fed.actor(slug))
    return json.loads(document) if isinstance(document, str) else dict(document)


def add_of(fed: Federation, sender: str, iri: str, tallies: list[dict[str, Any]]
           ) -> dict[str, Any]:
    return {"@context": DECISION_CONTEXT,
            "id": f"{fed.node(sender).base}/activities/{uuid.uuid4().hex}", "type": "Add",
            "actor": fed.actor(sender), "to": [fed.actor(CHAPTERS[sender][3] or "ireland")],
            "object": tallies, "target": iri}


def test_a_tampered_tally_is_refused(fed: Federation, international: str) -> None:
    wait_for(lambda: question(international).get("resultFinal"), timeout=60,
             what="the final result")
    before_rows, before_question = held_at_top(fed, international), question(international)
    real = own_tally(fed, "dublin", international)
    assert real["final"] is True and real["voters"] == 3
    # Dublin's real signed tally, its counts changed after it was signed (and made newer,
    # so that it would replace the real one were it taken).
    tampered = real | {"voters": 10, "published": datetime.now(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "ballots": [
        {"type": "Note", "name": "Adopt", "replies": {"type": "Collection", "totalItems": 0}},
        {"type": "Note", "name": "Reject", "replies": {"type": "Collection", "totalItems": 10}}]}
    # The real tally, signed and sent the same way, is taken (it changes nothing: the
    # parent holds it already), so a refusal below is the proof's doing.
    assert signed_post(fed.node("ireland"), "dublin", fed,
                       add_of(fed, "dublin", international, [real])) == 202
    status = signed_post(fed.node("ireland"), "dublin", fed,
                         add_of(fed, "dublin", international, [tampered]))
    assert status == 401
    assert "integrity proof rejected" in fed.node("ireland").log()
    # Passed on by its real sender with its real tally beside it, the whole Add is refused.
    status = signed_post(fed.node("ireland"), "dublin", fed,
                         add_of(fed, "dublin", international, [real, tampered]))
    assert status == 401
    time.sleep(1.5)  # a tally taken would be counted within the debounce (0.2 s)
    assert held_at_top(fed, international) == before_rows
    assert question(international) == before_question


def proven_tally(fed: Federation, slug: str, iri: str, voters: int, adopt: int
                 ) -> dict[str, Any]:
    """A tally of `slug`'s, really signed by that chapter's own Ed25519 key."""
    node = fed.node(slug)
    (pem,) = node.sql(
        "SELECT k.private_key FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
        " WHERE a.handle = ? AND k.algorithm = 'ed25519'", slug)[0]
    document = tally_document(
        f"{node.base}/activities/{uuid.uuid4().hex}", fed.actor(slug), iri,
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", True,
        SIZES[slug], voters, {"Adopt": adopt, "Reject": voters - adopt}, OPTIONS, [],
        DECISION_CONTEXT)
    key = load_private_key(pem)
    assert isinstance(key, Ed25519PrivateKey)
    return add_proof(document, key, f"{fed.actor(slug)}#ed25519-key")


def test_a_proven_tally_from_outside_the_scope_is_not_counted(
    fed: Federation, international: str
) -> None:
    wait_for(lambda: question(international).get("resultFinal"), timeout=60,
             what="the final result")
    before_rows, before_question = held_at_top(fed, international), question(international)
    galway = proven_tally(fed, "galway", international, voters=4, adopt=4)
    # Galway, below Ireland now but not at the opening, passes up its own proven tally.
    add = add_of(fed, "galway", international, [galway])
    assert signed_post(fed.node("ireland"), "galway", fed, add) == 403
    # Dublin, in the scope, passes it up beside its own real tally: Galway's is left out.
    add = add_of(fed, "dublin", international, [own_tally(fed, "dublin", international),
                                                galway])
    assert signed_post(fed.node("ireland"), "dublin", fed, add) == 202
    time.sleep(1.5)
    assert held_at_top(fed, international) == before_rows
    after = question(international)
    assert after == before_question and "Galway" not in breakdown(after)


def test_a_node_down_at_the_close_is_counted_with_its_last_tally(fed: Federation) -> None:
    iri = fed.open("france", "Hold the congress in Lyon?", closes_in=10, count="ballots",
                   options=["Yes", "No"])
    fed.vote(iri, "paris", [("paris1", ["No"]), ("paris2", ["No"]), ("paris3", ["Yes"])])
    fed.vote(iri, "lyon", [("lyon1", ["Yes"]), ("lyon2", ["Yes"])])
    wait_for(lambda: {n: line["voters"] for n, line in breakdown(question(iri)).items()}
             .items() >= {"Paris": 3, "Lyon": 2}.items(), what="both tallies at France")
    paris = fed.node("paris")
    paris.stop(signal.SIGKILL)  # no final tally, no goodbye
    closed = wait_for(lambda: d if "closed" in (d := question(iri))
                      and breakdown(d)["Lyon"]["final"] else None,
                      timeout=40, what="the close and Lyon's final tally")
    lines = breakdown(closed)
    assert lines["Paris"]["final"] is False and lines["Paris"]["voters"] == 3
    assert totals(closed) == {"Yes": 3, "No": 2}
    shown = show(fed.node("france"), iri)
    assert shown["missing"] == ["Paris"]
    assert shown["states"]["Paris"].startswith("not final (last tally at")
    assert shown["states"]["Lyon"] == "final"
    page = fed.node("france").get(fed.page_of("france", iri), accept="text/html").text
    assert "Final tallies still missing from: Paris" in page
    # Once the grace is over the result is final, Paris still counted by its last tally.
    document = wait_for(lambda: d if (d := question(iri))["resultFinal"] else None,
                        timeout=GRACE + 20, what="the result after the grace")
    assert breakdown(document)["Paris"]["final"] is False
    assert totals(document) == {"Yes": 3, "No": 2}

    # Paris's node comes back after the grace: its final tally arrives and is shown late;
    # the final result stands (a tally timed after it cannot change the outcome).
    paris.start()
    document = wait_for(lambda: d if breakdown(d := question(iri))["Paris"]["late"]
                        else None, timeout=40, what="Paris's late final tally")
    assert breakdown(document)["Lyon"]["late"] is False
    assert breakdown(document)["Paris"]["voters"] == 3
    assert totals(document) == {"Yes": 3, "No": 2} and document["resultFinal"] is True
    assert show(fed.node("france"), iri)["states"]["Paris"].startswith("late (tally at")
