"""Decisions: time from a decision's close to the final result at the top, counted up a
four-level hierarchy of real node processes, beside smaller trees in the same federation.

The federation (every node a real `chapterhouse serve` on 127.0.0.1 with its own data
directory and SQLite file, started through chapterhouse.harness as the tests start theirs):

    world (international, node `top`)
      nat0, nat1 (national, node `national`)
        reg0..reg4 (regional, node `regional`; reg0, reg2, reg4 under nat0)
          loc00..loc49 (local, 10 under each regional, on --local-nodes nodes)
            100 members each: 5,000 members

By default the 50 locals are spread over two local nodes (locals 0, 2, 4... on `local1`):
at the close every local chapter signs its final tally and sends it up in its own `Add`,
so one node holding all 50 does 50 signatures and 50 POSTs alone on one core, while the
machine has two; a hosted node serving a city's locals is the other case
(`--local-nodes 1`). Five node processes on two cores is as many as is fair to the rest
of the machine.

Every node is built with the operator's commands: `chapterhouse init --set` with
`federation.allow_private_addresses`, a small `delivery.backoff_scale`,
`hierarchy.tally_debounce_seconds` 0.2, `hierarchy.late_tally_grace_seconds` 3600 (a
late tally never ends the count early), JSON logs, and each parent's node listing its
children's nodes in `hierarchy.accept_subchapters_from`; chapters by `chapter create` and
the links by `chapter affiliate` (the Join, accepted by that setting: the real
affiliation path). The CLI runs in this process through chapterhouse.cli.main, which
saves ~100 interpreter starts.

Benchmark shortcuts, said plainly: the 5,000 members are written in bulk through
storage.actors.create_member with ONE pre-generated key pair reused by all (generating
5,000 RSA keys would take minutes and is not what is measured); decisions are opened with
decisions.opening.open_decision, and ballots cast with decisions.ballots.cast_ballot (the
web form's and the CLI's code path), both in this process against the node's database
while the node runs. Turnout is 40-90% per chapter, drawn at random, with mixed options.

Each run: open a decision closing --lead seconds ahead (by default enough for its
ballots), wait until every chapter in its scope has its part on its own node, cast the
ballots, wait until the deciding chapter's Question counts every voter (the debounced
tallies climbed), then measure from the close (`closes_at`; each node's tally worker
closes on time) to the moment the deciding node's stored Question says resultFinal with
every chapter's final tally in (its database polled every --poll s; then checked by an
AS2 GET, with the totals against the ballots cast). Cases side by side, in one
federation: a regional decision (2 levels, 11 chapters), a national one (3 levels, 34),
and the international one (4 levels, 58 chapters, 5,000 members); --rounds decisions
each, run one at a time. Where the time goes comes from the nodes' JSON logs: each node's
"decision closed", the last "tallies taken" at each level, and "decision result" final.
Nothing about timing is asserted; the checks are about correctness.

    .venv/bin/python bench/decision_close.py [--rounds 3] [--local-nodes 2] [--poll 0.01]
        [--cases regional national international] [--lead SECONDS] [--keep]
        [--profile-node regional]
"""

from __future__ import annotations

# (Not called decisions.py: run from bench/, a bench's name hides a package of that name.)
import argparse
import asyncio
import contextlib
import io
import json
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from actors.keys import generate_actor_keys
from chapterhouse import cli, harness
from decisions.ballots import cast_ballot
from decisions.opening import Opening, open_decision
from federation.urls import Urls
from storage import actors as actor_store
from storage.database import Database

MEMBERS = 100
OPTIONS = ["Yes", "No", "Abstain"]
DEBOUNCE = 0.2
SETUP_TIMEOUT = 180.0
ACTIVITY_JSON = "application/activity+json"
NEVER = datetime.min.replace(tzinfo=UTC)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = SETUP_TIMEOUT,
             every: float = 0.05) -> Any:
    try:
        return harness.wait_for(condition, timeout, what, every=every)
    except AssertionError as exc:
        raise SystemExit(str(exc)) from None


def run_cli(*argv: str) -> str:
    """A `chapterhouse` command through its own entry point, in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(list(argv))
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    if rc != 0:
        raise SystemExit(f"chapterhouse {' '.join(argv[:3])}: exit {rc}: {err.getvalue()}")
    return out.getvalue()


# --- nodes and the tree ----------------------------------------------------------------------


@dataclass
class Node(harness.Node):
    name: str = ""
    _reader: sqlite3.Connection | None = None

    def actor(self, slug: str) -> str:
        return f"{self.base}/actors/{slug}"

    @property
    def file(self) -> Path:
        return self.data / "chapterhouse.sqlite3"

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Read-only and autocommit: each query sees the last commit; cheap to poll."""
        if self._reader is None:
            self._reader = sqlite3.connect(f"file:{self.file}?mode=ro", uri=True,
                                           isolation_level=None, check_same_thread=False)
        return self._reader.execute(sql, params).fetchall()

    @property
    def profile_path(self) -> Path:
        return self.data.parent / f"{self.name}.pstats"

    def shutdown(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self.running():
            with contextlib.suppress(Exception):
                self.stop()


@dataclass(frozen=True)
class Chapter:
    slug: str
    level: str
    node: Node
    parent: Chapter | None

    @property
    def iri(self) -> str:
        return self.node.actor(self.slug)


@dataclass
class Federation:
    nodes: list[Node]
    chapters: dict[str, Chapter]

    def below(self, top: Chapter) -> list[Chapter]:
        """The chapter and every chapter below it."""
        found = [top]
        for chapter in self.chapters.values():
            if chapter.parent is top:
                found += self.below(chapter)
        return found

    @property
    def locals(self) -> list[Node]:
        return [n for n in self.nodes if n.name.startswith("local")]


def build(tmp: Path, args: argparse.Namespace) -> Federation:
    top = Node(tmp / "top", harness.free_port(), name="top")
    national = Node(tmp / "national", harness.free_port(), name="national")
    regional = Node(tmp / "regional", harness.free_port(), name="regional")
    locals_ = [Node(tmp / f"local{k + 1}", harness.free_port(), name=f"local{k + 1}")
               for k in range(args.local_nodes)]
    nodes = [top, national, regional, *locals_]
    children = {top.name: [national], national.name: [regional], regional.name: locals_}
    for node in nodes:
        settings: dict[str, object] = {
            **harness.FEDERATING, "delivery.backoff_scale": 0.01, "log.format": "json",
            "hierarchy.tally_debounce_seconds": DEBOUNCE,
            "hierarchy.late_tally_grace_seconds": 3600}
        below = children.get(node.name, [])
        if below:
            settings["hierarchy.accept_subchapters_from"] = [n.domain for n in below]
        node.create(settings, node.name.title())
    chapters: dict[str, Chapter] = {}
    world = chapters["world"] = Chapter("world", "international", top, None)
    nationals = [Chapter(f"nat{i}", "national", national, world) for i in range(2)]
    regionals = [Chapter(f"reg{i}", "regional", regional, nationals[i % 2]) for i in range(5)]
    locals_chapters = [Chapter(f"loc{i:02d}", "local", locals_[i % len(locals_)],
                               regionals[i % 5]) for i in range(50)]
    for chapter in [*nationals, *regionals, *locals_chapters]:
        chapters[chapter.slug] = chapter
    for chapter in chapters.values():
        run_cli("chapter", "create", chapter.slug, "--name", chapter.slug.title(), "--level",
                chapter.level, "--data", str(chapter.node.data))
    keys = generate_actor_keys()  # one key pair for every member: a benchmark shortcut

    async def add_members(node: Node) -> None:
        async with Database(node.file) as db:
            for chapter in locals_chapters:
                if chapter.node is node:
                    for m in range(MEMBERS):
                        handle = f"{chapter.slug}m{m:03d}"
                        await actor_store.create_member(db, handle, handle.title(),
                                                        chapter.slug, None, keys)

    started = time.perf_counter()
    for node in locals_:
        asyncio.run(add_members(node))
    print(f"  {MEMBERS * len(locals_chapters)} members written in"
          f" {time.perf_counter() - started:.1f} s", flush=True)
    for node in nodes:
        profiled = node.name == args.profile_node
        node.spawn(python_args=("-m", "cProfile", "-o", str(node.profile_path))
                   if profiled else ())
    for node in nodes:
        node.wait_until_serving(timeout=60)
    for level in ("national", "regional", "local"):
        linked = [c for c in chapters.values() if c.level == level]
        for chapter in linked:
            assert chapter.parent is not None
            run_cli("chapter", "affiliate", chapter.slug, "--parent", chapter.parent.iri,
                    "--data", str(chapter.node.data))
        wait_for(lambda linked=linked: all(  # type: ignore[misc]
            c.node.query("SELECT count(*) FROM parents p JOIN actors a ON a.id = p.chapter_id"
                         " WHERE a.handle = ? AND p.state = 'accepted'", c.slug)[0][0]
            for c in linked), f"the {level} chapters to be accepted by their parents")
    return Federation(nodes, chapters)


def quiet(federation: Federation) -> None:
    wait_for(lambda: sum(n.query(
        "SELECT (SELECT count(*) FROM deliveries WHERE state = 'queued')"
        " + (SELECT count(*) FROM fanouts)")[0][0] for n in federation.nodes) == 0,
        "every node's queue to empty")


# --- one decision ----------------------------------------------------------------------------


@dataclass
class Run:
    case: str
    top: Chapter
    chapters: list[Chapter]
    iri: str = ""
    closes_at: datetime = NEVER
    expected: Counter[str] = field(default_factory=Counter)
    voters: int = 0
    eligible: int = 0
    spread_s: float = 0.0  # opened -> every part row on every node
    cast_s: float = 0.0  # ballots cast
    climbed_s: float = 0.0  # last ballot -> the top counts every voter
    final_s: float = float("nan")  # close -> resultFinal at the top
    early: bool = False  # the close came before the tallies had climbed
    cpu: dict[str, float] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)  # from the logs, s after the close
    checks: list[tuple[str, bool]] = field(default_factory=list)


def open_one(run: Run, lead: float) -> None:
    node = run.top.node
    closes = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)

    async def go() -> str:
        async with Database(node.file) as db:
            return await open_decision(db, Urls(node.base), run.top.slug, Opening(
                question=f"{run.case}: adopt motion {random.random():.6f}?",
                options=OPTIONS, closes_at=closes, count_method="members"))

    run.iri, run.closes_at = asyncio.run(go()), closes


def spread(run: Run) -> None:
    started = time.perf_counter()
    by_node = Counter(c.node.name for c in run.chapters)
    nodes = {c.node.name: c.node for c in run.chapters}

    def reached() -> bool:
        for name, expected in by_node.items():
            got = nodes[name].query(
                "SELECT count(*) FROM decision_chapters p JOIN decisions d"
                " ON d.id = p.decision_id WHERE d.iri = ? AND p.in_scope", run.iri)[0][0]
            if got < expected:
                return False
        return True

    wait_for(reached, f"{run.case} decision to reach every chapter", timeout=60)
    run.spread_s = time.perf_counter() - started


def cast(run: Run, rng: random.Random) -> None:
    """Every local chapter's ballots, each local node's in a thread of its own."""
    started = time.perf_counter()
    plans: dict[str, list[tuple[str, str]]] = {}
    for chapter in run.chapters:
        if chapter.level != "local":
            continue
        run.eligible += MEMBERS
        turnout = rng.uniform(0.4, 0.9)
        weights = [rng.random() + 0.2 for _ in OPTIONS]
        voters = rng.sample(range(MEMBERS), round(MEMBERS * turnout))
        for m in voters:
            choice = rng.choices(OPTIONS, weights)[0]
            plans.setdefault(chapter.node.name, []).append((f"{chapter.slug}m{m:03d}", choice))
            run.expected[choice] += 1
            run.voters += 1
    nodes = {c.node.name: c.node for c in run.chapters}
    errors: list[BaseException] = []

    async def go(node: Node, plan: list[tuple[str, str]]) -> None:
        async with Database(node.file) as db:
            for handle, choice in plan:
                await cast_ballot(db, run.iri, handle, [choice], timedelta(seconds=DEBOUNCE))

    def thread(node: Node, plan: list[tuple[str, str]]) -> None:
        try:
            asyncio.run(go(node, plan))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(nodes[name], plan))
               for name, plan in plans.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    run.cast_s = time.perf_counter() - started


def document(run: Run) -> dict[str, Any] | None:
    rows = run.top.node.query("SELECT document FROM objects WHERE iri = ?", run.iri)
    return json.loads(rows[0][0]) if rows else None


def climb(run: Run) -> None:
    started = time.perf_counter()
    wait_for(lambda: (d := document(run)) is not None and d.get("votersCount") == run.voters,
             f"the {run.case} decision's Question to count every voter", timeout=120,
             every=0.1)
    run.climbed_s = time.perf_counter() - started


def measure(run: Run, federation: Federation, poll: float, timeout: float) -> None:
    """Sleep to the close, then poll the deciding node's Question until resultFinal."""
    close = run.closes_at.timestamp()
    if time.time() > close:
        run.early = True
    while time.time() < close - 0.5:
        time.sleep(0.1)
    cpu = {n.name: n.cpu_seconds() for n in federation.nodes}
    deadline = close + timeout
    while time.time() < deadline:
        found = document(run)
        if found is not None and found.get("resultFinal") is True:
            run.final_s = time.time() - close
            break
        time.sleep(poll)
    run.cpu = {n.name: n.cpu_seconds() - cpu[n.name] for n in federation.nodes}


def check(run: Run) -> None:
    response = harness.request(run.iri, headers={"Accept": ACTIVITY_JSON})
    question = response.json() if response.status == 200 else {}
    breakdown = question.get("breakdown", [])
    totals = {o.get("name"): o.get("replies", {}).get("totalItems")
              for o in question.get("oneOf", [])}
    run.checks = [
        ("the Question (AS2 GET) says resultFinal", question.get("resultFinal") is True),
        ("its breakdown holds every chapter of the scope, each final and none late",
         len(breakdown) == len(run.chapters)
         and all(line.get("final") is True and not line.get("late") for line in breakdown)),
        ("its totals are the ballots cast", totals == {o: run.expected[o] for o in OPTIONS}),
        ("its voters and electorate are right", question.get("votersCount") == run.voters
         and question.get("electorateSize") == run.eligible),
    ]


def marks(run: Run, federation: Federation) -> None:
    """Per-level moments from the nodes' JSON logs, in s after the close."""
    close = run.closes_at.timestamp()
    level_of = {c.iri: c.level for c in federation.chapters.values()}
    holder_level = {c.slug: c.level for c in federation.chapters.values()}
    found: dict[str, float] = {}
    for node in federation.nodes:
        for line in node.log().splitlines():
            if run.iri not in line or not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("decision") != run.iri:
                continue
            moment = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
            at = moment.timestamp() - close
            event = entry.get("event")
            if event == "decision closed":
                key = f"closed on {node.name}"
                found[key] = min(found.get(key, at), at)
            elif event == "tallies taken" and at >= -0.2 and entry.get("kept"):
                via = level_of.get(entry.get("via", ""), "?")
                key = f"{holder_level.get(entry.get('holder'), '?')} took from {via}"
                found[key] = max(found.get(key, at), at)
            elif event == "decision result" and entry.get("final"):
                found["result final"] = min(found.get("result final", at), at)
    run.marks = found


def one(run: Run, federation: Federation, args: argparse.Namespace,
        rng: random.Random) -> Run:
    expected_ballots = sum(MEMBERS * 0.65 for c in run.chapters if c.level == "local")
    lead = args.lead if args.lead else 8 + expected_ballots * args.per_ballot
    open_one(run, lead)
    spread(run)
    cast(run, rng)
    climb(run)
    quiet(federation)
    measure(run, federation, args.poll, args.timeout)
    check(run)
    marks(run, federation)
    status = "EARLY CLOSE" if run.early else f"{run.final_s:.2f} s"
    print(f"  {run.case:<13} {len(run.chapters):3d} chapters {run.voters:5d} voters:"
          f" close -> final {status}   (spread {run.spread_s:.1f} s, ballots"
          f" {run.cast_s:.1f} s, climb {run.climbed_s:.1f} s, lead {lead:.0f} s)", flush=True)
    return run


# --- report ----------------------------------------------------------------------------------


def report(runs: list[Run], federation: Federation, args: argparse.Namespace) -> int:
    cases = list(dict.fromkeys(r.case for r in runs))
    print()
    print(f"Close -> final result at the top: {len(federation.nodes)} node processes on"
          f" 127.0.0.1 (one SQLite file each; locals on {args.local_nodes} node(s)),"
          f" debounce {DEBOUNCE} s, grace 3600 s, Question polled every"
          f" {args.poll * 1000:.0f} ms; {args.rounds} decisions per case.")
    print(f"  {'case':<14} {'levels':>6} {'chapters':>8} {'members':>7} {'voters':>7}"
          f" {'median s':>8} {'min s':>6} {'max s':>6}   per run")
    levels = {"regional": 2, "national": 3, "international": 4}
    for case in cases:
        mine = [r for r in runs if r.case == case and not r.early]
        times = [r.final_s for r in mine]
        first = next(r for r in runs if r.case == case)
        print(f"  {case:<14} {levels.get(first.top.level, 0):>6} {len(first.chapters):>8}"
              f" {first.eligible:>7} {statistics.median([r.voters for r in mine] or [0]):>7.0f}"
              f" {statistics.median(times) if times else float('nan'):>8.2f}"
              f" {min(times, default=float('nan')):>6.2f} {max(times, default=float('nan')):>6.2f}"
              f"   {' '.join(f'{t:.2f}' for t in times)}")
    print("  where the time goes (median over runs, s after the close; from the nodes' logs:"
          " each node's 'decision closed', the last 'tallies taken' at each level, the final"
          " 'decision result'):")
    for case in cases:
        mine = [r for r in runs if r.case == case and not r.early]
        keys = sorted({k for r in mine for k in r.marks},
                      key=lambda k: statistics.median([r.marks[k] for r in mine if k in r.marks]))
        print(f"    {case}: " + "; ".join(
            f"{k} {statistics.median([r.marks[k] for r in mine if k in r.marks]):.2f}"
            for k in keys))
    print("  CPU seconds per node process from 0.5 s before the close to the final result"
          " (median):")
    names = [n.name for n in federation.nodes]
    print(f"    {'case':<14} " + " ".join(f"{n:>9}" for n in names))
    for case in cases:
        mine = [r for r in runs if r.case == case]
        print(f"    {case:<14} " + " ".join(
            f"{statistics.median([r.cpu.get(n, float('nan')) for r in mine]):9.2f}"
            for n in names))
    failures = 0
    print("Checks:")
    early = [r for r in runs if r.early]
    results = [(f"no decision closed before its tallies had climbed ({len(early)} did;"
                " raise --lead)", not early)]
    for text in dict.fromkeys(t for r in runs for t, _ in r.checks):
        bad = [r for r in runs if any(t == text and not ok for t, ok in r.checks)]
        results.append((f"{text} ({len(runs) - len(bad)} of {len(runs)} runs)", not bad))
    for text, ok in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
        failures += not ok
    dead = {n.name: n.query("SELECT count(*) FROM deliveries WHERE state = 'dead'")[0][0]
            for n in federation.nodes}
    print(f"  note dead deliveries: {dead}")
    return 1 if failures else 0


def print_profile(node: Node, count: int) -> None:
    if not node.profile_path.exists():
        return
    out = io.StringIO()
    stats = pstats.Stats(str(node.profile_path), stream=out)
    stats.sort_stats("tottime").print_stats(count)
    stats.sort_stats("cumulative").print_stats(count)
    print(f"The {node.name} node under cProfile (its main thread, setup and every run"
          f" included), by own time, then cumulative:")
    print(out.getvalue())


def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    random.seed(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="chapterhouse-decisions-"))
    federation: Federation | None = None
    keep = args.keep
    try:
        started = time.perf_counter()
        print("Building the federation...", flush=True)
        federation = build(tmp, args)
        quiet(federation)
        print(f"  built in {time.perf_counter() - started:.0f} s (not timed)", flush=True)
        tops = {"regional": "reg0", "national": "nat0", "international": "world"}
        runs: list[Run] = []
        for _ in range(args.rounds):
            for case in args.cases:
                top = federation.chapters[tops[case]]
                runs.append(one(Run(case, top, federation.below(top)), federation, args, rng))
        return report(runs, federation, args)
    except BaseException:
        keep = True
        raise
    finally:
        for node in federation.nodes if federation else []:
            node.shutdown()
        if federation is not None and args.profile_node:
            print_profile(next(n for n in federation.nodes if n.name == args.profile_node),
                          args.profile)
        if keep:
            print(f"data directories and node logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="decisions per case")
    parser.add_argument("--cases", nargs="+", default=["regional", "national", "international"],
                        choices=["regional", "national", "international"])
    parser.add_argument("--local-nodes", type=int, default=2, choices=[1, 2, 5, 10, 25, 50],
                        help="node processes the 50 local chapters are spread over")
    parser.add_argument("--lead", type=float, default=0.0,
                        help="seconds from opening to close (default: by the ballots)")
    parser.add_argument("--per-ballot", type=float, default=0.006,
                        help="seconds of lead per expected ballot, by default")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between DB polls")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds after the close to wait for the final result")
    parser.add_argument("--profile-node", choices=["top", "national", "regional", "local1",
                                                   "local2"],
                        help="run this node under cProfile and print its profile at the end")
    parser.add_argument("--profile", type=int, default=25, metavar="N",
                        help="functions to print with --profile-node")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep data directories and logs")
    raise SystemExit(main(parser.parse_args()))
