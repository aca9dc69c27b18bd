"""Hierarchy: minutes from local chapters to the top of a four-level chain, with 1, 10 and
50 sibling subchapters posting at once.

Every level is a real `chapterhouse serve` process on 127.0.0.1 with its own data directory
and SQLite file, started through chapterhouse.harness as the tests start theirs and built
with the CLI as tests/test_hierarchy.py builds its chain: `init --set` with
`federation.allow_private_addresses=true` and a small `delivery.backoff_scale` (a retry
must not dominate), `chapter create`, `chapter affiliate` + `chapter accept` at each level:

    local chapters dublin00..dublin49 (on --local-nodes nodes, round-robin)
      → leinster (regional node) → ireland (national node) → international (its own node)

Every sibling is affiliated to `leinster`. With --local-nodes 1 (the default) all siblings
live on ONE local node, as when one hosted node serves a city's local groups;
--local-nodes K spreads them over K local node processes.

A burst: each of N siblings posts one set of minutes at the same moment. The posts are
`chapterhouse post minutes` runs, by default through the CLI's own entry point
(chapterhouse.cli.main) in --posters long-lived helper processes per local node, each
running its share back to back: 50 `python -m chapterhouse` starts at once would cost ~30
CPU-seconds on this 2-core machine and measure interpreter start-up, not federation.
--spawn-posts launches one real `chapterhouse post minutes` process per item instead, all
at once. Either way the post runs outside the node process, so the local node's delivery
worker finds it only at its next poll of the database (every 1 s); what a node queues
itself (the Announce each level sends up) wakes its worker at once. Bursts are a random
0.3-1.3 s apart, so that they meet that poll at a random point.

Arrival is detected by polling, every --poll seconds, read-only connections to the
regional, national and top nodes' SQLite files (`remote_objects`) for the ids the posts
printed. Once every queue is empty, each node's `deliveries` row that sent an item up (the
Create, then each level's Announce, to the parent's inbox) tells when its worker began that
attempt: this splits the way up into waits inside nodes, the first of which is the 1 s
poll, and POSTs. Times are from each item's commit: the `next_attempt_at` its transaction
gave the local node's delivery row, read while the row waits (or, if it was sent before a
poll saw it, the post's return); "all at top" is from the start of the burst. Nothing is
asserted about timing; the checks are about correctness (every post succeeded, every item
at every level, `via` the right chapter, nothing dead).

The first burst of every chapter is reported on its own ("cold"): the national and top
nodes fetch each author's actor for its key the first time they check one of its proofs.
--profile-node NAME runs one node under cProfile; --dump FILE writes every timestamp.

    .venv/bin/python bench/minutes_up.py [--siblings 1 10 50] [--rounds 5] [--local-nodes 1]
        [--posters 2] [--spawn-posts] [--backoff-scale 0.01] [--poll 0.02]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import pstats
import queue
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chapterhouse import harness

ROOT = Path(__file__).resolve().parent.parent
UPPER = [("leinster", "regional"), ("ireland", "national"), ("international", "international")]
MINUTES = "1. Bookfair: stalls from 10, talks from 2.\n2. Banners for the march.\n3. AOB.\n"
SETUP_TIMEOUT = 120.0


# --- the CLI, in a helper process ----------------------------------------------------------


def driver_main() -> int:
    """Run `chapterhouse` commands read as JSON lines on stdin, answer one JSON line each.

    Each command goes through chapterhouse.cli.main as `python -m chapterhouse` would run
    it (argument parsing, config, database opened and closed per command), with its stdin,
    stdout and stderr redirected; only the interpreter start and the building of the
    argument parser are saved.
    """
    import functools

    from chapterhouse import cli

    # Parsed by the same parser every time: building it (~20 ms of argparse and gettext) is
    # part of an interpreter start, not of posting.
    cli.build_parser = functools.cache(cli.build_parser)  # type: ignore[assignment]
    main = cli.main
    requests, answers = sys.stdin, sys.stdout
    for line in requests:
        request = json.loads(line)
        out, err = io.StringIO(), io.StringIO()
        started = time.time()
        sys.stdin = io.StringIO(request.get("stdin", ""))
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = main(request["argv"])
                except SystemExit as exc:
                    rc = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdin = requests
        answers.write(json.dumps({"tag": request.get("tag"), "rc": rc, "out": out.getvalue(),
                                  "err": err.getvalue(), "started": started,
                                  "finished": time.time()}) + "\n")
        answers.flush()
    return 0


class Driver:
    """A helper process running CLI commands; answers arrive on `answers` as they finish."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--cli-driver"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, bufsize=1,
        )
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.answers.put(json.loads(line))

    def submit(self, commands: list[tuple[Any, list[str], str]]) -> None:
        """Queue (tag, argv, stdin) commands; they run one after another."""
        assert self.process.stdin is not None
        self.process.stdin.write("".join(
            json.dumps({"tag": tag, "argv": argv, "stdin": stdin}) + "\n"
            for tag, argv, stdin in commands))
        self.process.stdin.flush()

    def run_all(self, commands: list[tuple[Any, list[str], str]]) -> list[dict[str, Any]]:
        self.submit(commands)
        answers = [self.answers.get(timeout=SETUP_TIMEOUT) for _ in commands]
        for answer in answers:
            if answer["rc"] != 0:
                raise SystemExit(f"chapterhouse {answer['tag']}: exit {answer['rc']}:"
                                 f" {answer['err'].strip()}")
        return answers

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- nodes ---------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], what: str, timeout: float = SETUP_TIMEOUT) -> Any:
    # Polled finely, since some waits are timed; a benchmark ends with a message, not a
    # traceback, when a node never gets there.
    try:
        return harness.wait_for(condition, timeout, what, every=0.05)
    except AssertionError as exc:
        raise SystemExit(str(exc)) from None


@dataclass
class Node(harness.Node):
    _reader: sqlite3.Connection | None = None

    @classmethod
    def named(cls, tmp: Path, name: str) -> Node:
        return cls(tmp / name, harness.free_port())

    @property
    def name(self) -> str:
        return self.data.name

    def actor(self, slug: str) -> str:
        return f"{self.base}/actors/{slug}"

    def argv(self, *args: str) -> list[str]:
        """A command for the Driver, which runs it in its own process."""
        return [*args, "--data", str(self.data)]

    @property
    def profile_path(self) -> Path:
        return self.data.parent / f"{self.name}.pstats"

    def launch(self, profiled: bool = False) -> None:
        profiler = ("-m", "cProfile", "-o", str(self.profile_path)) if profiled else ()
        self.spawn(python_args=profiler)

    def shutdown(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self.running():
            with contextlib.suppress(subprocess.TimeoutExpired):  # killed by stop() then
                self.stop()

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """A query on a read-only connection (autocommit: each sees the last commit)."""
        if self._reader is None:
            self._reader = sqlite3.connect(f"file:{self.data / 'chapterhouse.sqlite3'}?mode=ro",
                                           uri=True, isolation_level=None,
                                           check_same_thread=False)
        return self._reader.execute(query, params).fetchall()

    def value(self, query: str, *params: object) -> Any:
        return self.sql(query, *params)[0][0]


@dataclass
class Chain:
    locals: list[Node]
    regional: Node
    national: Node
    top: Node
    chapters: list[tuple[str, Node]]  # (slug, its local node), all affiliated to leinster
    posters: list[tuple[Node, Driver]]  # helpers for the posts, --posters per local node

    @property
    def upper(self) -> list[Node]:
        return [self.regional, self.national, self.top]

    @property
    def nodes(self) -> list[Node]:
        return [*self.locals, *self.upper]

    def queued(self) -> int:
        return sum(n.value("SELECT (SELECT count(*) FROM deliveries WHERE state = 'queued')"
                           " + (SELECT count(*) FROM fanouts)") for n in self.nodes)

    def quiet(self) -> None:
        """Until no node has anything left to send (what the last burst caused)."""
        wait_for(lambda: self.queued() == 0, "every node's queue to empty")


def build(tmp: Path, args: argparse.Namespace, driver: Driver) -> Chain:
    """The chain, affiliated and quiet; every CLI call through the helper process."""
    locals_ = [Node.named(tmp, f"local{k + 1}") for k in range(args.local_nodes)]
    regional, national, top = (Node.named(tmp, level) for _, level in UPPER)
    nodes = [*locals_, regional, national, top]
    settings = harness.set_arguments({
        **harness.FEDERATING, "delivery.backoff_scale": args.backoff_scale,
        "log.level": args.log_level})
    driver.run_all([(f"init {n.name}", ["init", "--data", str(n.data), "--domain", n.domain,
                                        "--name", n.name.title(), *settings], "")
                    for n in nodes])
    count = max(args.siblings)
    chapters = [(f"dublin{i:02d}", locals_[i % len(locals_)]) for i in range(count)]
    creates = [(f"create {slug}", node.argv("chapter", "create", slug, "--name", slug.title(),
                                           "--level", level, "--location", f"{slug.title()}"),
                "") for (slug, level), node in zip(UPPER, [regional, national, top],
                                                   strict=True)]
    creates += [(f"create {slug}", node.argv("chapter", "create", slug, "--name",
                                            f"Dublin {i:02d}", "--level", "local",
                                            "--location", "Dublin, Ireland"), "")
                for i, (slug, node) in enumerate(chapters)]
    driver.run_all(creates)
    for node in nodes:
        node.launch(profiled=node.name == args.profile_node)
    for node in nodes:
        node.wait_until_serving(timeout=30)

    def affiliate(pairs: list[tuple[str, Node]], parent: Node, parent_slug: str) -> None:
        before = parent.value("SELECT count(*) FROM subchapters")
        driver.run_all([(f"affiliate {slug}", node.argv("chapter", "affiliate", slug, "--parent",
                                                       parent.actor(parent_slug)), "")
                        for slug, node in pairs])
        wait_for(lambda: parent.value("SELECT count(*) FROM subchapters WHERE state ="
                                      " 'requested'") >= len(pairs)
                 and parent.value("SELECT count(*) FROM subchapters") >= before + len(pairs),
                 f"{parent_slug} to see {len(pairs)} requests")
        driver.run_all([(f"accept {slug}", parent.argv("chapter", "accept", parent_slug,
                                                      node.actor(slug)), "")
                        for slug, node in pairs])
        wait_for(lambda: all(
            node.value("SELECT count(*) FROM parents p JOIN actors a ON a.id = p.chapter_id"
                       " WHERE a.handle = ? AND p.state = 'accepted'", slug)
            for slug, node in pairs), f"{len(pairs)} chapters to hear {parent_slug}'s Accept")

    affiliate([("ireland", national)], top, "international")
    affiliate([("leinster", regional)], national, "ireland")
    affiliate(chapters, regional, "leinster")
    chain = Chain(locals_, regional, national, top, chapters, [])
    chain.quiet()
    if not args.spawn_posts:
        chain.posters = [(node, Driver()) for node in locals_ for _ in range(args.posters)]
        for node, poster in chain.posters:  # imports and first-call costs, untimed
            poster.run_all([("warm-up", node.argv("chapter", "list"), "")])
    return chain


# --- one burst -----------------------------------------------------------------------------


@dataclass
class Item:
    slug: str
    node: Node
    started: float = 0.0  # the post was begun
    returned: float = 0.0  # the post returned
    committed: float = 0.0  # its transaction queued the delivery to the parent (from the DB)
    iri: str = ""
    seen: dict[str, float] = field(default_factory=dict)  # node name -> first seen stored
    sent: dict[str, float] = field(default_factory=dict)  # node name -> began sending it up
    error: str | None = None  # the post failed
    commit_seen: bool = False  # committed is from the DB, not the post's return


@dataclass
class Burst:
    label: str
    siblings: int
    started: float
    items: list[Item]
    cpu: dict[str, float]  # CPU seconds used by each node process during the burst
    complete: bool
    base_activity: dict[str, int]  # each node's last activity row before the burst

    def read_sends(self, chain: Chain) -> None:
        """When each node began the attempt that sent each item up (its Create, then each
        level's Announce, to the parent's inbox): the row's next_attempt_at once delivered.
        Read once every queue is empty, so that every outcome is recorded."""
        by_iri = {i.iri: i for i in self.items}
        hops = [*((local, chain.regional) for local in chain.locals),
                (chain.regional, chain.national), (chain.national, chain.top)]
        for node, parent in hops:
            for iri, started in node.sql(
                "SELECT json_extract(a.document, '$.object.id'), d.next_attempt_at"
                " FROM deliveries d JOIN activities a ON a.id = d.activity_id"
                " WHERE a.id > ? AND a.type IN ('Create', 'Announce') AND d.host = ?"
                " AND d.state = 'delivered' AND d.attempts = 1",
                self.base_activity[node.name], parent.domain,
            ):
                item = by_iri.get(iri)
                if item is not None:
                    item.sent[node.name] = started

    def spans(self, measure: Callable[[Item], float | None]) -> list[float]:
        return [v for v in map(measure, self.items) if v is not None]


def post_commands(chain: Chain, slugs: Iterable[tuple[str, Node]], title: str) -> list[
        tuple[Any, list[str], str]]:
    return [(slug, node.argv("post", "minutes", "--chapter", slug, "--title",
                            f"{title} ({slug})", "--meeting-date", "2026-11-20"), MINUTES)
            for slug, node in slugs]


def spawn(tag: str, argv: list[str], stdin: str, answers: queue.Queue[dict[str, Any]]) -> None:
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "chapterhouse", *argv], input=stdin,
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    answers.put({"tag": tag, "rc": result.returncode, "out": result.stdout,
                 "err": result.stderr, "started": started, "finished": time.time()})


def burst(chain: Chain, siblings: int, label: str, args: argparse.Namespace,
          pool: ThreadPoolExecutor | None) -> Burst:
    """N siblings post one set of minutes each at once; poll until all are at the top."""
    members = chain.chapters[:siblings]
    items = {slug: Item(slug, node) for slug, node in members}
    base_activity = {n.name: n.value("SELECT coalesce(max(id), 0) FROM activities")
                     for n in chain.nodes}
    base_object = {n.name: n.value("SELECT coalesce(max(id), 0) FROM remote_objects")
                   for n in chain.upper}
    cpu = {n.name: n.cpu_seconds() for n in chain.nodes}
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    title = f"Minutes, {label}"
    started = time.time()
    if pool is not None:
        for tag, argv, stdin in post_commands(chain, members, title):
            pool.submit(spawn, tag, argv, stdin, answers)
    else:
        shares: dict[int, list[tuple[str, Node]]] = {}
        for member in members:  # each local node's chapters dealt out to its posters
            mine = [k for k, (node, _) in enumerate(chain.posters) if node is member[1]]
            turn = sum(len(shares.get(k, [])) for k in mine)
            shares.setdefault(mine[turn % len(mine)], []).append(member)
        for k, share in shares.items():
            poster = chain.posters[k][1]
            poster.answers = answers  # its reader thread reports here from now on
            poster.submit(post_commands(chain, share, title))
    by_iri: dict[str, Item] = {}
    queued: dict[str, float] = {}
    posted = 0
    deadline = started + args.timeout
    top = chain.top.name
    while time.time() < deadline:
        while True:
            try:
                answer = answers.get_nowait()
            except queue.Empty:
                break
            item = items[answer["tag"]]
            item.started, item.returned = answer["started"], answer["finished"]
            posted += 1
            if answer["rc"] != 0:  # reported by the checks; the others go on
                lines = answer["err"].strip().splitlines() or ["(no message)"]
                item.error = (f"exit {answer['rc']} after"
                              f" {item.returned - item.started:.1f} s: {lines[-1]}")
                continue
            item.iri = answer["out"].strip()
            by_iri[item.iri] = item
        now = time.time()
        for local in chain.locals:
            # Until it is sent, the row's next_attempt_at is when the post's transaction
            # queued it: the commit, to a few ms, whenever the post's process ends.
            for iri, queued_at in local.sql(
                "SELECT json_extract(a.document, '$.object.id'), d.next_attempt_at"
                " FROM deliveries d JOIN activities a ON a.id = d.activity_id"
                " WHERE a.id > ? AND a.type = 'Create' AND d.host = ? AND d.attempts = 0",
                base_activity[local.name], chain.regional.domain,
            ):
                queued.setdefault(iri, queued_at)
        for node in chain.upper:
            for (iri,) in node.sql("SELECT iri FROM remote_objects WHERE id > ?",
                                   base_object[node.name]):
                item = by_iri.get(iri)
                if item is not None:
                    item.seen.setdefault(node.name, now)
        if posted == len(items) and all(top in i.seen for i in by_iri.values()):
            break
        time.sleep(args.poll)
    cpu = {n.name: n.cpu_seconds() - cpu[n.name] for n in chain.nodes}
    for item in items.values():  # a row sent before a poll saw it: the post's return
        item.committed = queued.get(item.iri, item.returned)
        item.commit_seen = item.iri in queued
    complete = posted == len(items) and all(top in i.seen for i in by_iri.values())
    return Burst(label, siblings, started, list(items.values()), cpu, complete, base_activity)


# --- report --------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary(chain: Chain, b: Burst) -> dict[str, Any]:
    """Per-burst figures, in seconds: medians and maxima per item, and the stages' values."""
    top, reg = chain.top.name, chain.regional.name

    def span(a: Callable[[Item], float | None],
             z: Callable[[Item], float | None]) -> list[float]:
        pairs = ((a(i), z(i)) for i in b.items)
        return [y - x for x, y in pairs if x is not None and y is not None]

    committed = lambda i: i.committed  # noqa: E731
    picked_up = lambda i: i.sent.get(i.node.name)  # noqa: E731
    to_top = span(committed, lambda i: i.seen.get(top))
    return {
        "median": median(to_top),
        "max": max(to_top, default=float("nan")),
        "all": max((i.seen[top] for i in b.items if top in i.seen), default=float("nan"))
        - b.started,
        "posts": max(i.committed for i in b.items) - b.started,
        "hop1": median(span(committed, lambda i: i.seen.get(reg))),
        "poll": median(span(committed, picked_up)),
        "pickup": median(span(picked_up, lambda i: i.seen.get(top))),
        "cpu": b.cpu,
        **{name: span(a, z) for name, (a, z) in stages(chain).items()},
    }


STAGES = ["wait local", "POST regional", "wait regional", "POST national", "wait national",
          "POST top"]


def stages(chain: Chain) -> dict[str, tuple[Callable[[Item], float | None],
                                            Callable[[Item], float | None]]]:
    """Each item's way up, cut where a node begins sending it up and where the next has
    stored it: waits inside a node (queued, not yet being sent) and POSTs (signing, the
    request, the receiver's checks and its transaction)."""
    reg, nat, top = chain.regional.name, chain.national.name, chain.top.name
    return {
        "wait local": (lambda i: i.committed, lambda i: i.sent.get(i.node.name)),
        "POST regional": (lambda i: i.sent.get(i.node.name), lambda i: i.seen.get(reg)),
        "wait regional": (lambda i: i.seen.get(reg), lambda i: i.sent.get(reg)),
        "POST national": (lambda i: i.sent.get(reg), lambda i: i.seen.get(nat)),
        "wait national": (lambda i: i.seen.get(nat), lambda i: i.sent.get(nat)),
        "POST top": (lambda i: i.sent.get(nat), lambda i: i.seen.get(top)),
    }


def report(chain: Chain, bursts: list[Burst], args: argparse.Namespace,
           setup_s: float, polling: tuple[float, float]) -> list[str]:
    posts = ("one `chapterhouse post minutes` process per item, all launched at once"
             if args.spawn_posts else
             "`chapterhouse post minutes` through chapterhouse.cli.main in"
             f" {args.posters} helper process(es) per local node, back to back")
    where = ("all on ONE local node" if args.local_nodes == 1
             else f"spread round-robin over {args.local_nodes} local nodes")
    print(f"Minutes up local → regional → national → international: {len(chain.nodes)} node"
          f" processes on 127.0.0.1, one SQLite file each; {len(chain.chapters)} local"
          f" chapters ({where}) affiliated to the regional chapter; backoff_scale"
          f" {args.backoff_scale:g}; {args.rounds} rounds; arrival polled every"
          f" {args.poll * 1000:.0f} ms.")
    print(f"  Posts: {posts}.")
    labels = list(dict.fromkeys(b.label for b in bursts))
    rows = {label: [summary(chain, b) for b in bursts if b.label == label] for label in labels}
    siblings = {b.label: b.siblings for b in bursts}
    print(f"  {'siblings':>10} {'items':>5} {'median s to top':>15} {'max s to top':>12}"
          f" {'all at top s':>12} {'first hop s':>11} {'(poll wait)':>11}"
          f" {'pickup→top s':>12} {'posts s':>7}")
    for label in labels:
        def m(key: str, mine: list[dict[str, Any]] = rows[label]) -> float:
            return median([r[key] for r in mine])

        name = f"{siblings[label]} cold" if label == "cold" else label
        print(f"  {name:>10} {siblings[label]:5d} {m('median'):15.2f} {m('max'):12.2f}"
              f" {m('all'):12.2f} {m('hop1'):11.2f} {m('poll'):11.2f} {m('pickup'):12.2f}"
              f" {m('posts'):7.2f}")
    print("  medians over rounds of: per item, median and max s from its commit to stored"
          " at the top; all at top, from the start of the burst to the last item"
          " there; first hop, commit to stored at the regional node; (poll wait), commit to"
          " the local worker beginning to send it (the 1 s poll);"
          " pickup→top, from then to stored at the top; posts, start of the burst to the"
          " last commit.")
    print("  all at top s, per round: " + "; ".join(
        f"{label}: " + " ".join(f"{r['all']:.2f}" for r in rows[label]) for label in labels))
    print(f"  where the time goes, s per item, median (max) over all rounds; a node's wait"
          f" runs from the item stored there to its worker beginning to send it up, a POST"
          f" from then to the item stored at the next level (polled: ±{args.poll:g} s):")
    print(f"  {'siblings':>10} " + " ".join(f"{name:>14}" for name in STAGES))
    for label in labels:
        cells = []
        for name in STAGES:
            values = [v for r in rows[label] for v in r[name]]
            cells.append(f"{median(values):.2f} ({max(values, default=float('nan')):.2f})")
        print(f"  {label:>10} " + " ".join(f"{c:>14}" for c in cells))
    names = [n.name for n in chain.nodes]
    print("  CPU seconds each node process used per burst (median over rounds):")
    print(f"  {'siblings':>10} " + " ".join(f"{n:>13}" for n in names))
    for label in labels:
        print(f"  {label:>10} " + " ".join(
            f"{median([r['cpu'][n] for r in rows[label]]):13.2f}" for n in names))
    timed = [i for b in bursts for i in b.items if i.error is None]
    print(f"  commit times read from the local DB for {sum(i.commit_seen for i in timed)} of"
          f" {len(timed)} items (the others: the post's return)")
    print(f"  setup, not timed: {setup_s:.1f} s (init, {len(chain.chapters)} chapters created,"
          f" affiliated and accepted through the CLI); this process (polling) used"
          f" {polling[0]:.1f} CPU-s in the {polling[1]:.0f} s of bursts and quiet")
    return check(chain, bursts)


def check(chain: Chain, bursts: list[Burst]) -> list[str]:
    failed = [i for b in bursts for i in b.items if i.error is not None]
    items = [i for b in bursts for i in b.items if i.error is None]
    failures = []
    missing = [i.slug for b in bursts if not b.complete for i in b.items
               if i.error is None and chain.top.name not in i.seen]
    if missing:
        failures.append(f"not at the top within the timeout: {len(missing)} items")
    at_every_level = all(all(n.name in i.seen for n in chain.upper) for i in items)
    wrong_via = 0
    for item in items:
        rows = chain.top.sql("SELECT attributed_to, via FROM remote_objects WHERE iri = ?",
                             item.iri)
        if rows != [(item.node.actor(item.slug), chain.national.actor("ireland"))]:
            wrong_via += 1
    dead = {n.name: n.value("SELECT count(*) FROM deliveries WHERE state = 'dead'")
            for n in chain.nodes}
    retried = {n.name: n.value("SELECT count(*) FROM deliveries WHERE attempts > 1")
               for n in chain.nodes}
    errors = sorted({i.error.split(": ", 1)[1] for i in failed if i.error})
    results = {
        f"every post succeeded ({len(failed)} of {len(failed) + len(items)} failed"
        + (f": {'; '.join(errors)}" if errors else "") + ")": not failed,
        f"every item ({len(items)}) stored at the regional, national and top nodes":
            at_every_level and not missing,
        f"at the top, every item attributed to its local chapter and via ireland"
        f" ({wrong_via} not)": not wrong_via,
        f"no dead deliveries on any node ({sum(dead.values())})": not any(dead.values()),
    }
    print("Checks:")
    for text, passed in results.items():
        print(f"  {'ok  ' if passed else 'FAIL'} {text}")
        if not passed:
            failures.append(text)
    stuck = [(n, b.label, node.name) for n, b in enumerate(bursts) for i in b.items
             for node in (chain.regional, chain.national)
             if node.name in i.seen and node.name in i.sent
             and i.sent[node.name] - i.seen[node.name] >= 0.9]
    print(f"  note items that waited >= 0.9 s inside the regional or national node before"
          f" being sent up (queued there, by the inbox, so its worker is woken at once;"
          f" ~1 s is its poll): {len(stuck)}, in {len({n for n, _, _ in stuck})} of"
          f" {len(bursts)} bursts"
          + (f" ({', '.join(sorted({f'{node} at {label} siblings' for _, label, node in stuck}))})"
             if stuck else ""))
    print("  note deliveries tried more than once: "
          + ", ".join(f"{k} {v}" for k, v in retried.items()))
    return failures


def main(args: argparse.Namespace) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    bursts: list[Burst] = []
    chain: Chain | None = None
    failures: list[str] = []
    rng = random.Random(args.seed)
    setup = Driver()
    tmp = Path(tempfile.mkdtemp(prefix="chapterhouse-hierarchy-"))
    keep = args.keep
    try:
        started = time.perf_counter()
        chain = build(tmp, args, setup)
        setup_s = time.perf_counter() - started
        pool = ThreadPoolExecutor(max_workers=max(args.siblings)) if args.spawn_posts else None
        usage = resource.getrusage(resource.RUSAGE_SELF)
        timed = time.perf_counter()
        try:
            # The first item of every chapter: nodes above the regional fetch each author.
            bursts.append(burst(chain, max(args.siblings), "cold", args, pool))
            chain.quiet()
            bursts[-1].read_sends(chain)
            time.sleep(args.pause + rng.random())
            for _ in range(args.rounds):
                for siblings in args.siblings:
                    bursts.append(burst(chain, siblings, f"{siblings}", args, pool))
                    chain.quiet()
                    bursts[-1].read_sends(chain)
                    time.sleep(args.pause + rng.random())
        finally:
            if pool is not None:
                pool.shutdown()
        after = resource.getrusage(resource.RUSAGE_SELF)
        polling = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime,
                   time.perf_counter() - timed)
        failures = report(chain, bursts, args, setup_s, polling)
        if args.dump:
            args.dump.write_text(json.dumps([
                {"label": b.label, "started": b.started, "items": [
                    {"chapter": i.slug, "started": i.started, "returned": i.returned,
                     "committed": i.committed,
                     **i.seen,
                     **{f"sent by {k}": v for k, v in i.sent.items()}} for i in b.items]}
                for b in bursts],
                indent=1))
    except BaseException:
        keep = True
        raise
    finally:
        setup.close()
        if chain is not None:
            for _, poster in chain.posters:
                poster.close()
        for node in (chain.nodes if chain is not None else []):
            node.shutdown()
        if chain is not None and args.profile_node:
            profiled = next(n for n in chain.nodes if n.name == args.profile_node)
            if profiled.profile_path.exists():
                out = io.StringIO()
                stats = pstats.Stats(str(profiled.profile_path), stream=out)
                stats.sort_stats("tottime").print_stats(args.profile)
                stats.sort_stats("cumulative").print_stats(args.profile)
                print(f"The {profiled.name} node under cProfile (its main thread only; setup"
                      f" included), by own time, then cumulative:")
                print(out.getvalue())
        if keep:
            print(f"data directories and node logs kept in {tmp}", file=sys.stderr)
        else:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--cli-driver"]:
        raise SystemExit(driver_main())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--siblings", type=int, nargs="+", default=[1, 10, 50],
                        help="how many local chapters post at once, per case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--local-nodes", type=int, default=1, metavar="K",
                        help="local node processes the siblings are spread over")
    parser.add_argument("--posters", type=int, default=2, metavar="P",
                        help="helper processes posting for each local node")
    parser.add_argument("--spawn-posts", action="store_true",
                        help="one `chapterhouse post minutes` process per item")
    parser.add_argument("--backoff-scale", type=float, default=0.01,
                        help="delivery.backoff_scale of every node (1.0: 16 s to a retry)")
    parser.add_argument("--log-level", default="info", help="log.level of every node")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between DB polls")
    parser.add_argument("--pause", type=float, default=0.3,
                        help="seconds of quiet between bursts once every queue is empty, plus"
                        " a random 0-1 s so that a burst meets the local worker's 1 s poll at"
                        " a random point")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds a burst may take to reach the top")
    parser.add_argument("--dump", type=Path, metavar="FILE",
                        help="write every item's timestamps (unix time) to FILE as JSON")
    parser.add_argument("--profile-node", choices=["local1", "regional", "national",
                                                   "international"],
                        help="run this node under cProfile and print its profile at the end")
    parser.add_argument("--profile", type=int, default=25, metavar="N",
                        help="functions to print with --profile-node")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random pauses")
    parser.add_argument("--keep", action="store_true", help="keep data directories and logs")
    raise SystemExit(main(parser.parse_args()))
