"""`chapterhouse decide`: an organiser opens a decision, enters paper ballots, and reads the
result both ways with each chapter's tally, on a running node whose tally worker counts
up a hierarchy of four chapters (world > ireland > dublin, cork); galway is outside it and
kerry joins ireland after the first decision opened."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.timestamps import at
from tests.nodes import Node, wait_for

MEMBERS = {"dublin": ["aoife", "brian", "ciara", "dara"], "cork": ["eoin", "fiona"],
           "ireland": ["grainne"], "galway": ["ita"], "kerry": ["kate"]}
ORGANISERS = {"dublin": "aoife", "cork": "eoin", "ireland": "grainne"}


class Tree:
    def __init__(self, node: Node, charter: str) -> None:
        self.node, self.charter = node, charter

    def decide(self, *args: str) -> tuple[int, str, str]:
        result = self.node.cli("decide", *args)
        assert "Traceback" not in result.stderr, result.stderr
        return result.returncode, result.stdout, result.stderr

    def ok(self, *args: str) -> str:
        code, out, err = self.decide(*args)
        assert code == 0, err
        return out

    def refused(self, *args: str) -> str:
        """The one line a refused command writes; it must exit 2."""
        code, out, err = self.decide(*args)
        assert code == 2 and out == "", (code, out, err)
        lines = [line for line in err.splitlines() if "error:" in line]
        assert len(lines) == 1, err
        return lines[0]

    def decisions(self) -> int:
        return int(self.node.sql("SELECT count(*) FROM decisions")[0][0])

    def vote(self, decision: str, member: str, *options: str, by: str) -> str:
        chosen = [part for option in options for part in ("--option", option)]
        return self.ok("vote", decision, "--member", member, *chosen, "--by", by)


def _affiliate(node: Node, child: str, parent: str) -> None:
    node.run("chapter", "affiliate", child, "--parent", f"{node.base}/actors/{parent}")
    node.run("chapter", "accept", parent, f"{node.base}/actors/{child}")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tree]:
    node = Node.init(tmp_path_factory.mktemp("decide"), settings={
        "hierarchy.tally_debounce_seconds": 0.2, "hierarchy.late_tally_grace_seconds": 30})
    for slug, name, level in (("world", "World", "international"),
                              ("ireland", "Ireland", "national"), ("dublin", "Dublin", "local"),
                              ("cork", "Cork", "local"), ("galway", "Galway", "local"),
                              ("kerry", "Kerry", "local")):
        node.chapter(slug, name, level)
    for chapter, members in MEMBERS.items():
        for member in members:
            node.run("member", "add", member, "--chapter", chapter)
    for chapter, organiser in ORGANISERS.items():
        node.run("chapter", "organisers", "add", chapter, organiser)
    for child, parent in (("ireland", "world"), ("dublin", "ireland"), ("cork", "ireland")):
        _affiliate(node, child, parent)
    out = node.run("decide", "open", "--chapter", "world", "--question", "Adopt the charter?",
                   "--option", "Yes", "--option", "No", "--closes", "+2h", "--count", "members")
    charter = out.splitlines()[0]
    # Kerry joins after the opening (which is the end of its second): it has no say.
    time.sleep(1.1)
    _affiliate(node, "kerry", "ireland")
    node.start()
    try:
        yield Tree(node, charter)
    finally:
        node.stop()


def test_open_prints_the_decisions_id_and_its_page(tree: Tree) -> None:
    node = tree.node
    closes = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    written = closes.astimezone(timezone(timedelta(hours=1))).isoformat()
    out = tree.ok("open", "--chapter", "dublin", "--question", "Which night do we meet?",
                  "--option", "Tuesday", "--option", "Thursday", "--option", "Sunday",
                  "--multiple", "--closes", written, "--count", "ballots",
                  "--description", "Pick **every** night you can come.", "--language", "eo")
    iri, page = out.splitlines()
    assert iri.startswith(f"{node.base}/objects/")
    [(number, question, options, multiple, method, language, closes_at)] = node.sql(
        "SELECT id, question, options, multiple, count_method, language, closes_at"
        " FROM decisions WHERE iri = ?", iri)
    assert page == f"{node.base}/decisions/{number}"
    assert (question, bool(multiple), method, language) == (
        "Which night do we meet?", True, "ballots", "eo")
    assert options == '["Tuesday", "Thursday", "Sunday"]'
    assert at(closes_at) == closes
    # The Question is served at its id, with our terms.
    document = node.get(iri.removeprefix(node.base), accept="application/activity+json").json()
    assert (document["type"], document["countMethod"]) == ("Question", "ballots")
    assert [option["name"] for option in document["anyOf"]] == ["Tuesday", "Thursday",
                                                                 "Sunday"]

    # A time from now.
    before = datetime.now(UTC)
    iri = tree.ok("open", "--chapter", "cork", "--question", "Book the hall?", "--option",
                  "Yes", "--option", "No", "--closes", "+3d", "--count", "members"
                  ).splitlines()[0]
    [(closes_at,)] = node.sql("SELECT closes_at FROM decisions WHERE iri = ?", iri)
    assert timedelta(days=3) <= at(closes_at) - before < timedelta(days=3, minutes=1)


@pytest.mark.parametrize(("args", "why"), [
    (("--closes", "2020-01-01T12:00:00+00:00"), "the closing time is in the past"),
    (("--closes", "2026-12-24T18:00:00"), "'2026-12-24T18:00:00' has no offset"),
    (("--closes", "tomorrow"), "--closes: 'tomorrow' is neither a moment"),
    (("--closes", "+2w"), "--closes: '+2w' is neither a moment"),
    (("--option", "Yes", "--closes", "+2h", "only"), "a decision needs at least two options"),
    (("--chapter", "atlantis"), "there is no chapter 'atlantis' on this node"),
    (("--chapter", "aoife"), "there is no chapter 'aoife' on this node"),
    (("--count", "heads"), "argument --count: invalid choice: 'heads'"),
    (("--closes", "+400d"), "a decision closes within a year"),
])
def test_open_refuses_bad_input_and_opens_nothing(
    tree: Tree, args: tuple[str, ...], why: str
) -> None:
    given = dict(zip(args[::2], args[1::2], strict=False))
    options = ["--option", "Yes"] if "--option" in given else ["--option", "Yes", "--option",
                                                               "No"]
    before = tree.decisions()
    line = tree.refused("open", "--chapter", given.get("--chapter", "world"), "--question",
                        "Q?", *options, "--closes", given.get("--closes", "+2h"), "--count",
                        given.get("--count", "ballots"))
    assert why in line
    assert tree.decisions() == before


def test_an_organiser_enters_paper_ballots_and_a_second_one_replaces_the_first(
    tree: Tree,
) -> None:
    node = tree.node
    [(number,)] = node.sql("SELECT id FROM decisions WHERE iri = ?", tree.charter)
    page = f"{node.base}/decisions/{number}"
    assert tree.vote(page, "brian", "Yes", by="aoife").strip() == (
        "ballot recorded for brian in dublin (entered by aoife)")
    assert tree.vote(tree.charter, "brian", "No", by="aoife").strip() == (
        "ballot changed for brian in dublin (entered by aoife)")
    assert node.sql(
        "SELECT b.choices, e.handle FROM ballots b JOIN actors m ON m.id = b.member_id"
        " JOIN actors e ON e.id = b.entered_by WHERE m.handle = 'brian'") == [
        ('["No"]', "aoife")]

    ballots = node.sql("SELECT count(*) FROM ballots")
    # Not an organiser of the member's chapter (cork's organiser for a Dublin member too).
    assert "ciara does not organise Dublin, so cannot enter its members' paper ballots" in \
        tree.refused("vote", page, "--member", "dara", "--option", "Yes", "--by", "ciara")
    assert "eoin does not organise Dublin" in tree.refused(
        "vote", page, "--member", "dara", "--option", "Yes", "--by", "eoin")
    # Members of chapters outside the scope: galway never joined; kerry joined after.
    for member in ("ita", "kate"):
        assert "only members of the chapters this decision was put to can vote in it" in \
            tree.refused("vote", page, "--member", member, "--option", "Yes", "--by", "aoife")
    assert "'Maybe' is not an option of this decision" in tree.refused(
        "vote", page, "--member", "dara", "--option", "Maybe", "--by", "aoife")
    assert "this decision takes one option" in tree.refused(
        "vote", page, "--member", "dara", "--option", "Yes", "--option", "No", "--by", "aoife")
    assert "there is no member 'nobody' on this node" in tree.refused(
        "vote", page, "--member", "nobody", "--option", "Yes", "--by", "aoife")
    for unknown in (f"{node.base}/decisions/99999", f"{node.base}/objects/nothing",
                    "https://elsewhere.example/decisions/1", "not a url"):
        assert f"there is no decision {unknown!r} on this node" in tree.refused(
            "vote", unknown, "--member", "dara", "--option", "Yes", "--by", "aoife")
    assert node.sql("SELECT count(*) FROM ballots") == ballots


def _show(tree: Tree, decision: str) -> str:
    return tree.ok("show", decision)


def _shown_once(tree: Tree, decision: str, *wanted: str) -> str:
    """`decide show` once it says all of `wanted` (the node's worker tallies meanwhile)."""
    def shown() -> str | None:
        out = _show(tree, decision)
        return out if all(part in out for part in wanted) else None
    return str(wait_for(shown, timeout=30, what=", ".join(wanted)))


def test_show_counts_both_ways_with_each_chapters_tally(tree: Tree) -> None:
    node = tree.node
    iri, page = tree.ok("open", "--chapter", "world", "--question", "Join the alliance?",
                        "--option", "Yes", "--option", "No", "--closes", "+2h",
                        "--count", "members").splitlines()
    for member, choice, organiser in (("aoife", "Yes", "aoife"), ("brian", "No", "aoife"),
                                      ("ciara", "Yes", "aoife"), ("eoin", "No", "eoin"),
                                      ("fiona", "No", "eoin"), ("grainne", "Yes", "grainne")):
        tree.vote(iri, member, choice, by=organiser)
    # The running node's worker tallies each chapter and counts at the top.
    # Kerry joined Ireland before this decision opened: it is in the scope, with no voter.
    shown = _shown_once(tree, page, "voters:     6", "\nWorld ", "\nKerry ")
    assert _show(tree, iri) == shown  # by its id or by its page
    lines = shown.splitlines()
    assert lines[:5] == [
        "question:   Join the alliance?",
        f"deciding:   World ({node.base}/actors/world)",
        "method:     members (each chapter's result weighted by its eligible members)",
        lines[3],
        lines[4],
    ]
    assert lines[4].startswith("status:     open, closes ")
    # Ballots: 3 each. Members: Dublin 4 × 2/3 and 4 × 1/3, Cork 2 × 2/2 against, Ireland
    # 1 × 1/1 for, Kerry nothing (nobody voted): 3.667 to 3.333, the count that decides.
    table = lines[lines.index("") + 1:]
    assert table[0].split() == ["OPTION", "BALLOTS", "SHARE", "WEIGHTED*", "SHARE*"]
    assert table[1].split() == ["Yes", "3", "50.0%", "3.667", "52.4%"]
    assert table[2].split() == ["No", "3", "50.0%", "3.333", "47.6%"]
    assert "* counted by members: this is the count that decides" in lines
    assert "electorate: 8" in lines and "voters:     6" in lines
    assert "turnout:    75.0%" in lines
    chapters = {line.split()[0]: line.split()[1:] for line in lines
                if line.split()[:1] and line.split()[0] in {"World", "Ireland", "Dublin",
                                                            "Cork", "Kerry"}}
    assert chapters["Dublin"][:4] == ["4", "3", "75.0%", "50.0%"]
    assert chapters["Cork"][:4] == ["2", "2", "100.0%", "25.0%"]
    assert chapters["Ireland"][:4] == ["1", "1", "100.0%", "12.5%"]
    assert chapters["Kerry"][:4] == ["1", "0", "0.0%", "12.5%"]
    assert chapters["World"][:4] == ["0", "0", "0.0%", "0.0%"]
    assert all(" ".join(state[4:]).startswith("not final (last tally at ")
               for state in chapters.values())
    assert "missing final tallies" not in shown  # open: finals come at the close
    # Each chapter of the node's own count, before any tally.
    assert "  Dublin: 3 of 4 members voted (Yes 2, No 1)" in lines
    assert "  Cork: 2 of 2 members voted (Yes 0, No 2)" in lines


def test_a_closed_decision_has_a_final_result_and_lists_after_the_open_ones(
    tree: Tree,
) -> None:
    iri = tree.ok("open", "--chapter", "cork", "--question", "Close the shop on Mondays?",
                  "--option", "Yes", "--option", "No", "--closes", "+4s", "--count",
                  "ballots").splitlines()[0]
    tree.vote(iri, "fiona", "Yes", by="eoin")
    tree.vote(iri, "eoin", "Yes", by="eoin")
    shown = _shown_once(tree, iri, "final result: ")
    assert "final result: Yes" in shown
    assert [line.split()[:3] for line in shown.splitlines() if line.startswith("Yes")] == [
        ["Yes", "2", "100.0%"]]
    [cork] = [line for line in shown.splitlines() if line.startswith("Cork ")]
    assert cork.split()[1:] == ["2", "2", "100.0%", "100.0%", "final"]
    assert "missing final tallies" not in shown
    assert "this decision closed at" in tree.refused(
        "vote", iri, "--member", "fiona", "--option", "No", "--by", "eoin")

    listed = tree.ok("list", "--chapter", "cork").splitlines()
    assert listed[0].split()[:2] == ["ID", "QUESTION"]
    rows = listed[1:]
    assert rows[-1].startswith(iri) and "Close the shop on Mondays?" in rows[-1]
    assert " closed " in rows[-1] and rows[-1].split()[-2:] == ["Cork", "yes"]
    charter = next(row for row in rows if row.startswith(tree.charter))
    assert "Adopt the charter?" in charter and " closes " in charter
    assert charter.split()[-2:] == ["World", "yes"]
    assert all(" closes " in row for row in rows[:-1])  # open ones first

    assert tree.ok("list", "--chapter", "galway").strip() == (
        "galway takes part in no decisions yet")
    assert "there is no chapter 'nowhere' on this node" in tree.refused(
        "list", "--chapter", "nowhere")
    assert "there is no decision 'nothing' on this node" in tree.refused("show", "nothing")
