"""Fan-out: one Note from a chapter to 10,000 followers on 1,000 hosts, publish to last POST.

1,000 remote hosts are 1,000 listening ports on 127.0.0.1, served by one aiohttp app in this
process; each counts the POSTs to its shared inbox (/inbox) and answers 202, and checks the
signature of every --verify-every'th one. The chapter `dublin` gets 10 accepted followers
per host (each with its own inbox and the host's shared inbox), written straight into the
node's database as fixture data.

A run builds the node's services as `serve` does (chapterhouse.services.running: database,
guarded client, keys, transport, delivery worker) with a given delivery concurrency, then
times post_note, the expansion of the fan-out into deliveries, and DeliveryWorker.run_once
until nothing is queued. The chapter's private key is parsed before the clock starts (once
per process in a running node). Every run must make exactly one POST per host.

This is done on every engine of --engines (sqlite,postgresql by default; PostgreSQL on a
throwaway cluster started for the run), rounds taking turns. Then, unless --no-serve, nodes
run by `chapterhouse serve` processes (SQLite with one; PostgreSQL with one, and with two
sharing the delivery queue, whose leases skip what the other holds): the Note is published
from this process and timed until every host has had its POST; every delivery must finish
and no host may get the Note twice (duplicates are counted).

--slow-hosts N makes N of the hosts answer only after --slow-seconds, to show how one slow
host holds up the others; --profile N adds a cProfile of one more run.

    .venv/bin/python bench/fanout.py [--hosts 1000] [--per-host 10] [--concurrency 50 200]
        [--engines sqlite,postgresql] [--no-serve]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import resource
import socket
import statistics
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from served import Served, add_engines_option, cluster_for, storage_url

from actors.registry import create_chapter, ensure_node_actor
from actors.signing import LocalKeys
from chapterhouse import logs
from chapterhouse.config import Config, load, parse, render_initial
from chapterhouse.services import running
from federation.signatures import PublicKey, SignatureError, verify_request
from federation.urls import Urls
from outbox.publish import post_note
from storage import outbox as store
from storage.database import Database, utcnow

CHAPTER = "dublin"
TARGET_SECONDS = 10.0
FINISHED = frozenset({"delivered", "dead"})  # delivery states that take no more attempts


@dataclass
class Hosts:
    """What the simulated hosts saw."""

    shared: Counter[int] = field(default_factory=Counter)  # POSTs to /inbox, by port
    posts: int = 0
    personal: int = 0  # POSTs to a personal inbox (there should be none)
    verified: int = 0
    bad_signatures: int = 0
    verify_every: int = 10
    key: PublicKey | None = None
    slow_ports: frozenset[int] = frozenset()  # hosts that take slow_seconds to answer
    slow_seconds: float = 0.0
    expected: int = 0  # hosts in all
    everyone: asyncio.Event | None = None  # set once every host has had a POST
    complete_at: float | None = None  # perf_counter() then

    def reset(self) -> None:
        self.shared.clear()
        self.posts = self.personal = self.verified = self.bad_signatures = 0
        self.everyone, self.complete_at = None, None


@dataclass
class Run:
    engine: str
    concurrency: int
    publish: float
    expand: float
    deliver: float
    batches: int
    posts: int
    ports_hit: int
    most_to_one_port: int
    personal: int
    delivered: int
    not_delivered: int
    verified: int
    bad_signatures: int

    @property
    def total(self) -> float:
        return self.publish + self.expand + self.deliver

    @property
    def ok(self) -> bool:
        return (self.posts == self.ports_hit == self.delivered and self.most_to_one_port == 1
                and not self.personal and not self.not_delivered and not self.bad_signatures)


def hosts_app(hosts: Hosts) -> web.Application:
    async def shared_inbox(request: web.Request) -> web.Response:
        body = await request.read()
        port = request.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        hosts.shared[port] += 1
        hosts.posts += 1
        if len(hosts.shared) == hosts.expected and hosts.complete_at is None:
            hosts.complete_at = time.perf_counter()
            if hosts.everyone is not None:
                hosts.everyone.set()
        if hosts.key is not None and hosts.posts % hosts.verify_every == 0:
            try:
                verify_request(request.method, request.raw_path, request.headers, body,
                               hosts.key)
                hosts.verified += 1
            except SignatureError:
                hosts.bad_signatures += 1
        if port in hosts.slow_ports:
            await asyncio.sleep(hosts.slow_seconds)
        return web.Response(status=202)

    async def personal_inbox(request: web.Request) -> web.Response:
        await request.read()
        hosts.personal += 1
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/inbox", shared_inbox)
    app.router.add_post("/users/{name}/inbox", personal_inbox)
    return app


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        if wanted < needed:
            raise SystemExit(f"need {needed} open files, the hard limit is {hard}")


async def serve_hosts(app: web.Application, count: int) -> tuple[web.AppRunner, list[int]]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock, backlog=128).start()
        ports.append(sock.getsockname()[1])
    return runner, ports


async def add_followers(db: Database, chapter_id: int, ports: list[int], per_host: int) -> None:
    """Fixture data: remote actors and accepted follows, in one transaction."""
    now = utcnow()
    actors, follows = [], []
    for port in ports:
        base = f"http://127.0.0.1:{port}"
        for n in range(per_host):
            iri = f"{base}/users/u{n}"
            document = {"id": iri, "type": "Person", "inbox": f"{iri}/inbox",
                        "endpoints": {"sharedInbox": f"{base}/inbox"}}
            actors.append((iri, "Person", f"127.0.0.1:{port}", f"{iri}/inbox", f"{base}/inbox",
                           f"u{n}", json.dumps(document), now))
            follows.append((chapter_id, iri, "accepted", f"{iri}/follows/1", now))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO remote_actors (iri, type, host, inbox, shared_inbox, username, document,"
            " fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            actors,
        )
        await tx.executemany(
            "INSERT INTO followers (actor_id, follower_iri, state, follow_iri, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            follows,
        )


async def fan_out(config: Config, chapter_id: int, hosts: Hosts, text: str, engine: str,
                  profiler: cProfile.Profile | None = None) -> Run:
    """Publish one Note and deliver it; the services are fresh (no warm connections)."""
    async with running(config) as node:
        key = await node.keys.signing_key(chapter_id)  # parsed once per process in a node
        hosts.key = key.private_key.public_key()  # type: ignore[assignment]
        hosts.reset()
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        await post_note(node.db, node.urls, CHAPTER, text)
        published = time.perf_counter()
        while await store.expand_fanouts(node.db):
            pass
        expanded = time.perf_counter()
        batches = 0
        while await node.worker.run_once():
            batches += 1
        finished = time.perf_counter()
        if profiler is not None:
            profiler.disable()
        states = await delivery_states(node.db)
    delivered = states.pop("delivered", 0)
    return Run(
        engine=engine,
        concurrency=config.delivery_concurrency,
        publish=published - started,
        expand=expanded - published,
        deliver=finished - expanded,
        batches=batches,
        posts=hosts.posts,
        ports_hit=len(hosts.shared),
        most_to_one_port=max(hosts.shared.values(), default=0),
        personal=hosts.personal,
        delivered=delivered,
        not_delivered=sum(states.values()),
        verified=hosts.verified,
        bad_signatures=hosts.bad_signatures,
    )


@dataclass
class ServedRun:
    """One fan-out by a node's serve processes, as the hosts and the database saw it."""

    case: str
    seconds: float  # from post_note to the last host's first POST
    posts: int
    ports_hit: int
    personal: int
    delivered: int
    not_delivered: int
    verified: int
    bad_signatures: int

    @property
    def duplicates(self) -> int:
        return self.posts - self.ports_hit

    def ok(self, hosts: int) -> bool:
        return (self.ports_hit == hosts == self.posts == self.delivered and not self.personal
                and not self.not_delivered and not self.bad_signatures)


@dataclass
class ServedCase:
    name: str
    served: Served
    config: Config
    chapter_id: int
    runs: list[ServedRun] = field(default_factory=list)


def configured(config_text: str, data_dir: Path, concurrency: int, url: str | None) -> Config:
    raw = tomllib.loads(config_text)
    raw["federation"]["allow_private_addresses"] = True
    raw["delivery"]["concurrency"] = concurrency
    if url is not None:
        raw["storage"]["url"] = url
    return parse(raw, data_dir)


async def prepare(config: Config, ports: list[int], per_host: int, fresh: bool) -> int:
    """The chapter and its followers (fixture data); the chapter's id."""
    async with Database(config.database, migrate=fresh) as db:
        await ensure_node_actor(db, config.name)
        chapter_id = await create_chapter(db, config.hostname, CHAPTER, "IOPS Dublin",
                                          "local", "Dublin, Ireland", "Organising.")
        await add_followers(db, chapter_id, ports, per_host)
    return chapter_id


async def served_fan_out(case: ServedCase, hosts: Hosts, text: str, limit: float
                         ) -> ServedRun:
    """Publish one Note from this process and wait until the serve processes have reached
    every host and finished every delivery; duplicates show as more POSTs than hosts."""
    config = case.config
    async with Database(config.database) as db:
        key = await LocalKeys(db, Urls(config.base_url)).signing_key(case.chapter_id)
        hosts.key = key.private_key.public_key()  # type: ignore[assignment]
        hosts.reset()
        hosts.everyone = asyncio.Event()
        started = time.perf_counter()
        await post_note(db, Urls(config.base_url), CHAPTER, text)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hosts.everyone.wait(), limit)
        seconds = (hosts.complete_at or time.perf_counter()) - started
        deadline = time.monotonic() + limit
        while True:
            states = await delivery_states(db)
            if not set(states) - FINISHED or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a duplicate sent by the other process would land by now
    delivered = states.pop("delivered", 0)
    return ServedRun(case.name, seconds, hosts.posts, len(hosts.shared), hosts.personal,
                     delivered, sum(states.values()), hosts.verified, hosts.bad_signatures)


async def delivery_states(db: Database) -> dict[str, int]:
    """How many deliveries of the latest activity are in each state."""
    activity = await db.fetchvalue("SELECT activity_id FROM deliveries ORDER BY id DESC LIMIT 1")
    return {state: int(n) for state, n in await db.fetchall(
        "SELECT state, count(*) FROM deliveries WHERE activity_id = ? GROUP BY state",
        (activity,))}


async def main(args: argparse.Namespace) -> int:
    logs.configure("console", "warning")  # as a node runs, minus per-delivery info lines
    # Listening sockets, the server side of each connection and the client side of each.
    raise_file_limit(3 * args.hosts + 200)
    hosts = Hosts(verify_every=args.verify_every, expected=args.hosts)
    started = time.perf_counter()
    runner, ports = await serve_hosts(hosts_app(hosts), args.hosts)
    listen_s = time.perf_counter() - started
    runs: list[Run] = []
    served_cases: list[ServedCase] = []
    profile = None
    fixture_s: dict[str, float] = {}
    text = "Bookfair on Saturday: stalls from 10, talks from 2. All welcome."
    try:
        with tempfile.TemporaryDirectory() as tmp, cluster_for(args.engines) as cluster:
            config_text = render_initial("127.0.0.1:1", "http", "Bench")
            nodes = {}
            for engine in args.engines:
                data = Path(tmp) / engine
                data.mkdir()
                url = storage_url(engine, cluster)
                config = configured(config_text, data, args.concurrency[0], url)
                started = time.perf_counter()
                chapter_id = await prepare(config, ports, args.per_host, fresh=True)
                fixture_s[engine] = time.perf_counter() - started
                nodes[engine] = (data, url, chapter_id)
                await fan_out(config, chapter_id, hosts, text, engine)  # warm up
            if args.serve:
                for engine, count in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
                    if engine not in args.engines:
                        continue
                    served = Served.init(Path(tmp), f"{engine}-{count}", engine, cluster, {
                        "federation.allow_private_addresses": True, "log.level": "warning",
                        "delivery.concurrency": args.concurrency[0]})
                    config = load(served.node.data)
                    chapter_id = await prepare(config, ports, args.per_host, fresh=False)
                    served.start(count)
                    plural = "es" if count > 1 else ""
                    case = ServedCase(f"{engine}, {count} serve process{plural}", served,
                                      config, chapter_id)
                    served_cases.append(case)
                    await served_fan_out(case, hosts, text, args.timeout)  # warm up
            if args.slow_hosts:
                spread = ports[::max(1, args.hosts // args.slow_hosts)]
                hosts.slow_ports = frozenset(spread[:args.slow_hosts])
                hosts.slow_seconds = args.slow_seconds
            for round_ in range(args.rounds):
                for engine, (data, url, chapter_id) in nodes.items():
                    for concurrency in args.concurrency:
                        config = configured(config_text, data, concurrency, url)
                        runs.append(await fan_out(config, chapter_id, hosts,
                                                  f"{text} ({round_})", engine))
                for case in served_cases:
                    case.runs.append(await served_fan_out(case, hosts, f"{text} ({round_})",
                                                          args.timeout))
            if args.profile:
                profiler = cProfile.Profile()
                engine = args.engines[0]
                data, url, chapter_id = nodes[engine]
                config = configured(config_text, data, args.concurrency[0], url)
                profiled = await fan_out(config, chapter_id, hosts, f"{text} (profiled)",
                                         engine, profiler)
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
                profile = (profiled, out.getvalue())
    finally:
        for case in served_cases:
            case.served.stop()
        await runner.cleanup()

    followers = args.hosts * args.per_host
    print(f"Fan-out of one Note to {followers} followers on {args.hosts} hosts"
          f" ({args.per_host} per host, one shared inbox each), {args.rounds} rounds;"
          " hosts, node and worker in one process:")
    if args.slow_hosts:
        print(f"  {len(hosts.slow_ports)} of the hosts (spread out) take {args.slow_seconds:g} s"
              " to answer")
    print(f"  {'engine':10} {'concurrency':>11} {'total s':>8} {'publish':>8} {'expand':>8}"
          f" {'deliver':>8} {'POSTs':>6} {'POSTs/s':>8} {'batches':>7} {'checks':>6}")

    def median(values: list[float]) -> float:
        return statistics.median(values)

    totals: dict[tuple[str, int], float] = {}
    for engine in args.engines:
        for concurrency in args.concurrency:
            mine = [r for r in runs if r.concurrency == concurrency and r.engine == engine]
            total = totals[engine, concurrency] = median([r.total for r in mine])
            print(f"  {engine:10} {concurrency:11d} {total:8.2f}"
                  f" {median([r.publish for r in mine]) * 1000:6.1f}ms"
                  f" {median([r.expand for r in mine]) * 1000:6.1f}ms"
                  f" {median([r.deliver for r in mine]):7.2f}s"
                  f" {median([r.posts for r in mine]):6.0f}"
                  f" {median([r.posts / r.deliver for r in mine]):8.0f}"
                  f" {median([r.batches for r in mine]):7.0f}"
                  f" {'ok' if all(r.ok for r in mine) else 'FAIL':>6}")
            print(f"  {'':22} per round, total s: "
                  + " ".join(f"{r.total:.2f}" for r in mine)
                  + f" (target < {TARGET_SECONDS:.0f} s"
                  + (")" if total < TARGET_SECONDS else ", MISSED)"))
    if len(args.engines) == 2:
        for concurrency in args.concurrency:
            ratio = totals["postgresql", concurrency] / totals["sqlite", concurrency]
            print(f"  postgresql / sqlite, concurrency {concurrency}: {ratio:.2f}")
    if served_cases:
        print(f"The same Note published from this process to nodes run by `chapterhouse serve`"
              f" (concurrency {args.concurrency[0]}), timed until every host has it;"
              " two processes share one delivery queue:")
        print(f"  {'case':34} {'seconds':>8} {'min':>7} {'max':>7} {'POSTs':>6}"
              f" {'duplicates':>10} {'checks':>6}")
        medians = {}
        for case in served_cases:
            seconds = [r.seconds for r in case.runs]
            medians[case.name] = median(seconds)
            print(f"  {case.name:34} {medians[case.name]:8.2f} {min(seconds):7.2f}"
                  f" {max(seconds):7.2f} {median([r.posts for r in case.runs]):6.0f}"
                  f" {sum(r.duplicates for r in case.runs):10d}"
                  f" {'ok' if all(r.ok(args.hosts) for r in case.runs) else 'FAIL':>6}")
        by_name = {case.name: case for case in served_cases}
        for a, b in (("postgresql, 2 serve processes", "postgresql, 1 serve process"),
                     ("postgresql, 1 serve process", "sqlite, 1 serve process")):
            if a in by_name and b in by_name:
                print(f"  {a} / {b}: {medians[a] / medians[b]:.2f}; per round: "
                      + " ".join(f"{x.seconds / y.seconds:.2f}" for x, y in
                                 zip(by_name[a].runs, by_name[b].runs, strict=True)))
    print("  setup, not timed: " f"{args.hosts} listening ports in {listen_s:.1f} s, "
          + ", ".join(f"{followers} actors and follows inserted in {s:.2f} s on {engine}"
                      for engine, s in fixture_s.items()))
    failed = [r for r in runs if not r.ok]
    served_failed = [r for case in served_cases for r in case.runs if not r.ok(args.hosts)]
    print("Checks (every run):")
    print(f"  {'ok  ' if not failed else 'FAIL'} exactly one POST per host to its shared inbox,"
          " none to personal inboxes, every delivery row 'delivered'")
    if served_cases:
        print(f"  {'ok  ' if not served_failed else 'FAIL'} serve processes: every host reached"
              " exactly once (no duplicates), none to personal inboxes, every delivery row"
              " 'delivered'")
    all_runs: list[Run | ServedRun] = [*runs, *(r for c in served_cases for r in c.runs)]
    verified = sum(r.verified for r in all_runs)
    bad = sum(r.bad_signatures for r in all_runs)
    print(f"  {'ok  ' if not bad else 'FAIL'} signatures checked by the hosts: {verified} valid,"
          f" {bad} invalid (every {args.verify_every}th POST)")
    for r in failed:
        print(f"  FAIL {r.engine}, concurrency {r.concurrency}: {r}")
    for s in served_failed:
        print(f"  FAIL {s.case}: {s}")
    if profile is not None:
        profiled, text = profile
        print(f"One more run under cProfile ({profiled.engine}, concurrency"
              f" {profiled.concurrency}, {profiled.total:.2f} s), by own time:")
        print(text)
    return 0 if not failed and not served_failed and not bad else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--per-host", type=int, default=10, help="followers on each host")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200],
                        help="delivery.concurrency values to compare")
    parser.add_argument("--verify-every", type=int, default=10, metavar="N",
                        help="hosts verify the signature of every Nth POST")
    parser.add_argument("--slow-hosts", type=int, default=0, metavar="N",
                        help="N hosts answer only after --slow-seconds")
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the rounds, profile one run and print N functions")
    parser.add_argument("--no-serve", dest="serve", action="store_false",
                        help="leave out the nodes run by serve processes")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a serve-process fan-out may take before it fails")
    add_engines_option(parser)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
