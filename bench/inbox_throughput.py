"""Inbox throughput: signed activities a real node accepts per second, against a bare handler.

The nodes, each with a chapter `dublin`, on every engine of --engines (sqlite,postgresql by
default; PostgreSQL on a throwaway cluster started for the run):
  - on SQLite, a node in this process (as this bench measured it before there were two
    engines; --profile looks into it);
  - on each engine, a node run by one `chapterhouse serve` process;
  - on PostgreSQL, a node run by two `chapterhouse serve` processes on one database, the
    client's requests spread over their two ports in turn, as a reverse proxy would.
A "senders" app in this process serves remote Person actors, each with its own RSA-2048 key.
Creates of Notes addressed to the chapter are signed ahead of time (draft-cavage, fresh ids,
Date = now; the signing is the sender's cost and stays outside the timed part), then POSTed
to /actors/dublin/inbox with a fixed number in flight. Each request makes the node verify,
dedupe, record the activity and store the Note (the remote object) before it answers 202.

The baseline, served by this process too and driven by the same client with requests signed
the same way (other ids): a bare aiohttp handler that parses the JSON, verifies the signature
with `verify_request` and a key it already holds, and inserts one row with aiosqlite in a
transaction (BEGIN IMMEDIATE, INSERT, COMMIT: three awaited calls). A second, for reference:
the same with the whole transaction as one call on a writer thread, which shows what each
hand-off to a database thread costs under load. The cases take turns, round after round;
figures are medians over rounds, and every ratio is of figures from this same run. The
target is each node at half the first baseline's rate or better.

Next to them, the framework most new servers are built on: a minimal Fedify inbox
(bench/fedify_inbox.mjs, a `node` child process, Fedify from tests/peers/fedify/node_modules)
that verifies the same kind of signed Creates the Fedify way (it fetches each sender's key
from the senders app once, like the node) and keeps each activity in a Map, no database. It
takes its turn in every round with the same requests, concurrency and signing, and each
node's rate is printed as a multiple of its rate (the aim: three times). Without `node` or
those node_modules the case is skipped with a printed line and the rest runs as before.

The client runs in a child process by default, so that the servers get this process (about a
core) to themselves on a small machine; --inline-client drives them from this process, as
bench/discovery.py does. At the end, for every node, every activity must be stored exactly
once, replays of accepted requests must change nothing, and new senders whose first requests
arrive under load must be accepted (the node fetches their keys meanwhile). --profile N adds
a cProfile of one more round of the in-process node and counts the aiosqlite thread
hand-offs per activity. Exit status 1 if a check fails.

    .venv/bin/python bench/inbox_throughput.py [--requests 2000] [--rounds 5] [--concurrency 32]
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import cProfile
import io
import json
import multiprocessing
import pstats
import shutil
import socket
import sqlite3
import statistics
import tempfile
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from served import Served, add_engines_option, cluster_for

from actors.registry import create_chapter, ensure_node_actor
from chapterhouse import logs
from chapterhouse.config import parse, render_initial
from chapterhouse.harness import run_sql
from chapterhouse.pg_cluster import Cluster
from federation.signatures import (
    CAVAGE,
    PublicKey,
    SignatureError,
    SigningKey,
    sign_request,
    signature_key_id,
    verify_request,
)
from federation.vocab import AS2_MEDIA_TYPE, AS_CONTEXT, SECURITY_V1
from storage.database import Database
from web.state import DB

CHAPTER = "dublin"
TARGET = 50  # percent of the bare handler's rate that the node should reach
FEDIFY_AIM = 3.0  # the node's rate as a multiple of the minimal Fedify inbox's (issue 9)
# The nodes in serve processes fetch the senders' keys from 127.0.0.1, and log as the
# in-process one does (no line per request).
NODE_SETTINGS = {"federation.allow_private_addresses": True, "log.level": "warning"}
FEDIFY_SCRIPT = Path(__file__).with_name("fedify_inbox.mjs")
FEDIFY_PACKAGE = (Path(__file__).resolve().parent.parent / "tests" / "peers" / "fedify"
                  / "node_modules" / "@fedify" / "fedify" / "package.json")

# A request as the client sends it: path, headers (Host included) and body.
Signed = tuple[str, dict[str, str], bytes]


@dataclass
class Sender:
    actor: str
    key: SigningKey
    pem: str

    @property
    def key_id(self) -> str:
        return self.key.key_id


@dataclass
class Drive:
    """One driven batch as the client saw it: the timed requests' answers, in order."""

    seconds: float
    latencies_ms: list[float]
    answers: list[int]

    @property
    def statuses(self) -> dict[int, int]:
        return dict(Counter(self.answers))

    @property
    def accepted(self) -> int:
        return self.answers.count(202)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Target:
    name: str
    base: str  # http://127.0.0.1:PORT, the host requests are signed for
    path: str
    sent: int = 0
    runs: list[Drive] = field(default_factory=list)
    # Where requests go, in turn (a reverse proxy's round robin); just `base` if empty.
    spread: list[str] = field(default_factory=list)
    database: Path | str | None = None  # a node's, for the checks
    replays: list[Signed] = field(default_factory=list)
    replayed: Drive | None = None
    refused: Counter[int] = field(default_factory=Counter)  # first contact under load

    @property
    def bases(self) -> list[str]:
        return self.spread or [self.base]


# --- the client (in this process or in a child) -----------------------------------------


async def drive(bases: list[str], requests: list[Signed], concurrency: int, warmup: int
                ) -> Drive:
    """POST `requests` at `concurrency` in flight, the i-th to bases[i % len(bases)];
    the first `warmup` are not timed."""
    connector = TCPConnector(limit=concurrency)
    timed = requests[warmup:]
    latencies = [0.0] * len(timed)
    answers = [0] * len(timed)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=60)) as session:

        async def send(batch: list[Signed], record: bool) -> None:
            items = iter(enumerate(batch))

            async def worker() -> None:
                for i, (path, headers, body) in items:
                    base = bases[i % len(bases)]
                    started = time.perf_counter()
                    async with session.post(base + path, data=body, headers=headers) as response:
                        await response.read()
                    if record:
                        latencies[i] = (time.perf_counter() - started) * 1000
                        answers[i] = response.status

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await send(requests[:warmup], record=False)
        started = time.perf_counter()
        await send(timed, record=True)
        seconds = time.perf_counter() - started
    return Drive(seconds, latencies, answers)


def drive_in_child(bases: list[str], requests: list[Signed], concurrency: int, warmup: int
                   ) -> Drive:
    return asyncio.run(drive(bases, requests, concurrency, warmup))


# --- the remote senders -------------------------------------------------------------------


def make_senders(names: range, base: str) -> list[Sender]:
    senders = []
    for i in names:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        actor = f"{base}/users/s{i}"
        senders.append(Sender(actor, SigningKey(f"{actor}#main-key", key), pem.decode()))
    return senders


def actor_documents(senders: list[Sender], base: str) -> dict[str, dict[str, object]]:
    """Person documents by user name, as the node will fetch them."""
    return {
        sender.actor.rsplit("/", 1)[1]: {
            "@context": [AS_CONTEXT, SECURITY_V1],
            "id": sender.actor,
            "type": "Person",
            "preferredUsername": sender.actor.rsplit("/", 1)[1],
            "inbox": f"{sender.actor}/inbox",
            "outbox": f"{sender.actor}/outbox",
            "endpoints": {"sharedInbox": f"{base}/inbox"},
            "publicKey": {"id": sender.key_id, "owner": sender.actor,
                          "publicKeyPem": sender.pem},
        }
        for sender in senders
    }


def senders_app(documents: dict[str, dict[str, object]]) -> web.Application:
    async def actor(request: web.Request) -> web.Response:
        document = documents.get(request.match_info["name"])
        if document is None:
            raise web.HTTPNotFound()
        return web.json_response(document, content_type=AS2_MEDIA_TYPE)

    app = web.Application()
    app.router.add_get("/users/{name}", actor)
    return app


def presign(senders: list[Sender], target: Target, audience: str, count: int) -> list[Signed]:
    """`count` Creates of Notes to `audience`, round-robin over the senders, signed now."""
    signed = []
    for i in range(count):
        sender = senders[i % len(senders)]
        tag = uuid.uuid4().hex
        activity = {
            "@context": AS_CONTEXT,
            "id": f"{sender.actor}/activities/{tag}",
            "type": "Create",
            "actor": sender.actor,
            "to": [audience],
            "object": {
                "id": f"{sender.actor}/notes/{tag}",
                "type": "Note",
                "attributedTo": sender.actor,
                "to": [audience],
                "content": f"<p>Meeting notes {i}: bookfair stall rota, <em>Tuesday</em>.</p>",
                "published": "2025-01-01T00:00:00Z",
            },
        }
        body = json.dumps(activity).encode()
        headers = {"Content-Type": AS2_MEDIA_TYPE}
        headers.update(sign_request(CAVAGE, "POST", target.base + target.path, headers, body,
                                    sender.key))
        signed.append((target.path, headers, body))
    return signed


# --- the baselines -------------------------------------------------------------------------

SCHEMA = ("CREATE TABLE activities (id INTEGER PRIMARY KEY, iri TEXT NOT NULL UNIQUE,"
          " actor TEXT NOT NULL, document TEXT NOT NULL)")
INSERT = ("INSERT INTO activities (iri, actor, document) VALUES (?, ?, ?)"
          " ON CONFLICT (iri) DO NOTHING")
PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000")  # as the node's


def verified(request: web.Request, body: bytes, keys: dict[str, PublicKey]) -> tuple[str, ...]:
    """(id, actor, document) of a request signed by a known key; SignatureError if not."""
    document = json.loads(body)
    _scheme, key_id = signature_key_id(request.headers)
    if key_id not in keys:
        raise SignatureError("unknown key")
    verify_request(request.method, request.raw_path, request.headers, body, keys[key_id])
    return document["id"], document["actor"], body.decode()


def baseline_app(handler: Callable[[web.Request], Awaitable[web.Response]],
                 cleanup: Callable[[], Awaitable[None]]) -> web.Application:
    async def close(app: web.Application) -> None:
        await cleanup()

    app = web.Application()
    app.router.add_post(f"/actors/{CHAPTER}/inbox", handler)
    app.on_cleanup.append(close)
    return app


async def bare_app(path: Path, keys: dict[str, PublicKey]) -> web.Application:
    """Parse, verify with a key held in memory, insert one row in a transaction, 202.

    The transaction is three awaited aiosqlite calls under a lock, as Database.transaction
    makes it: BEGIN IMMEDIATE, INSERT, COMMIT.
    """
    conn = await aiosqlite.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        await conn.execute(f"PRAGMA {pragma}")
    await conn.execute(SCHEMA)
    lock = asyncio.Lock()

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            row = verified(request, body, keys)
        except SignatureError:
            return web.Response(status=401)
        async with lock:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                await conn.execute(INSERT, row)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        return web.Response(status=202)

    return baseline_app(inbox, conn.close)


async def one_hop_app(path: Path, keys: dict[str, PublicKey]) -> web.Application:
    """The bare handler with its whole transaction run as one call on a writer thread.

    A reference, not the target: it shows what the hand-offs to aiosqlite's thread (one per
    awaited call) cost under load.
    """
    loop = asyncio.get_running_loop()
    writer = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(SCHEMA)
        return conn

    conn = await loop.run_in_executor(writer, connect)

    def insert(row: tuple[str, ...]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(INSERT, row)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            row = verified(request, body, keys)
        except SignatureError:
            return web.Response(status=401)
        await loop.run_in_executor(writer, insert, row)
        return web.Response(status=202)

    async def close() -> None:
        await loop.run_in_executor(writer, conn.close)
        writer.shutdown()

    return baseline_app(inbox, close)


# --- plumbing -----------------------------------------------------------------------------


def bound_socket() -> socket.socket:
    """A listening socket on a free port, so the node's domain can name its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve(app: web.Application, sock: socket.socket | None = None) -> tuple[
        web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = sock or bound_socket()
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def start_fedify() -> tuple[asyncio.subprocess.Process, str, str] | str:
    """(process, Fedify's version, base URL) of bench/fedify_inbox.mjs, or why it cannot run."""
    node = shutil.which("node")
    if node is None:
        return "`node` is not on PATH"
    if not FEDIFY_PACKAGE.exists():
        return (f"{FEDIFY_PACKAGE.parent} is missing"
                " (npm ci --prefix tests/peers/fedify installs it)")
    version = json.loads(FEDIFY_PACKAGE.read_text())["version"]
    process = await asyncio.create_subprocess_exec(
        node, str(FEDIFY_SCRIPT), "0", stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    except TimeoutError:
        line = ""
    if not line.startswith("READY "):
        await stop(process)
        return f"bench/fedify_inbox.mjs did not start (it printed {line!r})"
    return process, version, line.removeprefix("READY ")


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
    await process.wait()


async def fedify_count(base: str) -> int | None:
    """How many distinct activities the Fedify inbox's listener kept (None if unreachable)."""
    try:
        async with (ClientSession(timeout=ClientTimeout(total=10)) as session,
                    session.get(f"{base}/_count") as response):
            return int((await response.json())["count"])
    except (ClientError, TimeoutError, KeyError, ValueError):
        return None


def count(path: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute(sql).fetchone()[0])


@contextlib.contextmanager
def counting_hops(labels: dict[int, str]) -> Iterator[Counter[str]]:
    """Count calls handed to aiosqlite's worker threads (one thread hop each), by connection.

    Diagnosis only: wraps aiosqlite's private `Connection._execute` for the block.
    """
    hops: Counter[str] = Counter()
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops[labels.get(id(self), "other")] += 1
        return await original(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    try:
        yield hops
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]


def interleave(fresh: list[Signed], regular: list[Signed], group: int) -> list[Signed]:
    """Spread `fresh` through `regular`, `group` fresh requests side by side at a time."""
    groups = [fresh[i:i + group] for i in range(0, len(fresh), group)]
    step = max(1, len(regular) // max(1, len(groups)))
    mixed = []
    for i, requests in enumerate(groups):
        mixed.extend(regular[i * step:(i + 1) * step])
        mixed.extend(requests)
    mixed.extend(regular[len(groups) * step:])
    return mixed


def node_count(location: Path | str, sql: str) -> int:
    """One count from a node's database, on either engine."""
    return int(run_sql(location, sql)[0][0])


def node_targets(tmp: Path, chosen: list[str], cluster: Cluster | None, path: str
                 ) -> list[tuple[Target, Served]]:
    """Nodes in `chapterhouse serve` processes: one per engine, and on PostgreSQL a second
    node served by two processes, requests spread over both as a reverse proxy would."""
    made = []
    for engine in chosen:
        for processes in (1, 2) if engine == "postgresql" else (1,):
            served = Served.init(tmp, f"{engine}-{processes}", engine, cluster, NODE_SETTINGS)
            served.node.chapter(CHAPTER, "IOPS Dublin", "local", "--location", "Dublin, Ireland")
            served.start(processes)
            plural = "es" if processes > 1 else ""
            target = Target(f"node: {engine}, {processes} process{plural}", served.node.base,
                            path, spread=served.bases, database=served.database)
            made.append((target, served))
    return made


async def main(args: argparse.Namespace) -> int:
    # Here, not at the top: when this file is loaded in place of `inbox` (see above),
    # chapterhouse.app is still half imported.
    from chapterhouse.app import create_app

    logs.configure("console", "warning")  # as a node runs, minus per-request info lines
    loop = asyncio.get_running_loop()
    pool = None if args.inline_client else concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    async def run(
        target: Target, requests: list[Signed], warmup: int, concurrency: int | None = None
    ) -> Drive:
        target.sent += len(requests)
        concurrency = concurrency or args.concurrency
        if pool is None:
            return await drive(target.bases, requests, concurrency, warmup)
        return await loop.run_in_executor(
            pool, drive_in_child, target.bases, requests, concurrency, warmup)

    with tempfile.TemporaryDirectory() as tmp, cluster_for(args.engines) as cluster:
        path = f"/actors/{CHAPTER}/inbox"
        sender_sock = bound_socket()
        sender_base = f"http://127.0.0.1:{sender_sock.getsockname()[1]}"
        started = time.perf_counter()
        senders = make_senders(range(args.senders), sender_base)
        fresh = make_senders(range(args.senders, args.senders + args.first_contact), sender_base)
        keygen_s = (time.perf_counter() - started) / (len(senders) + len(fresh))
        documents = actor_documents(senders, sender_base)
        keys = {s.key_id: s.key.private_key.public_key() for s in senders}
        bare_db, one_hop_db = Path(tmp) / "bare.sqlite3", Path(tmp) / "one-hop.sqlite3"
        runners = [(await serve(senders_app(documents), sender_sock))[0]]
        targets: list[Target] = []
        node = node_app = None
        if "sqlite" in args.engines:
            # The node in this process, as it was measured before there were two engines:
            # the one --profile looks into.
            node_sock = bound_socket()
            domain = f"127.0.0.1:{node_sock.getsockname()[1]}"
            raw = tomllib.loads(render_initial(domain, "http", "Bench"))
            raw["federation"]["allow_private_addresses"] = True
            (Path(tmp) / "in-process").mkdir()
            config = parse(raw, Path(tmp) / "in-process")
            async with Database(config.database, migrate=True) as db:
                await ensure_node_actor(db, config.name)
                await create_chapter(db, config.hostname, CHAPTER, "IOPS Dublin", "local",
                                     "Dublin, Ireland", "Organising in Dublin.")
            node_app = create_app(config, deliver=False)
            runners.append((await serve(node_app, node_sock))[0])
            node = Target("node: sqlite, in this process", config.base_url, path,
                          database=config.database)
            targets.append(node)
        served: list[Served] = []
        try:
            for target, one in node_targets(Path(tmp), args.engines, cluster, path):
                targets.append(target)
                served.append(one)
            nodes = list(targets)
            for name, app in (("bare: parse+verify+insert", bare_app(bare_db, keys)),
                              ("(bare, tx in 1 thread call)", one_hop_app(one_hop_db, keys))):
                runner, base = await serve(await app)
                runners.append(runner)
                targets.append(Target(name, base, path))
            bare, one_hop = targets[len(nodes):]
            started_fedify = await start_fedify()
            fedify = fedify_process = None
            if isinstance(started_fedify, str):
                print(f"Fedify case skipped: {started_fedify}", flush=True)
            else:
                fedify_process, version, fedify_base = started_fedify
                # The same inbox path as the node's (see fedify_inbox.mjs), so the requests
                # differ only in the host they are signed for.
                fedify = Target(f"fedify {version}: Map only", fedify_base, path)
                targets.append(fedify)
            fedify_kept: int | None = None
            sign_s: list[float] = []
            # Warm up. The first request of each sender makes a node fetch its actor: one
            # sender at a time (first contact under load is checked on its own below).
            for target in targets:
                audience = f"{target.base}/actors/{CHAPTER}"
                first = presign(senders, target, audience, args.senders)
                rest = presign(senders, target, audience, 200)
                for batch, concurrency in ((first, 1), (rest, args.concurrency)):
                    warm = await run(target, batch, warmup=0, concurrency=concurrency)
                    if warm.accepted != len(batch):
                        raise SystemExit(f"{target.name}: warm-up answered {warm.statuses}")
                if target in nodes:
                    target.replays = first
            for round_ in range(args.rounds):
                shift = round_ % len(targets)  # each case goes first in turn
                for target in targets[shift:] + targets[:shift]:
                    audience = f"{target.base}/actors/{CHAPTER}"
                    started = time.perf_counter()
                    requests = presign(senders, target, audience,
                                       args.requests + args.concurrency)
                    sign_s.append((time.perf_counter() - started) / len(requests))
                    target.runs.append(await run(target, requests, warmup=args.concurrency))

            # First contact under load: new senders, each with a few requests in flight at
            # once, among requests from known senders. Each node fetches each new actor
            # and must accept every request.
            documents.update(actor_documents(fresh, sender_base))
            for target in nodes:
                audience = f"{target.base}/actors/{CHAPTER}"
                newcomers = [request for sender in fresh
                             for request in presign([sender], target, audience, 3)]
                known = presign(senders, target, audience, 20 * len(fresh))
                mixed = interleave(newcomers, known, 3)
                first_contact = await run(target, mixed, warmup=0)
                fresh_ids = {id(request) for request in newcomers}
                target.refused = Counter(
                    status for request, status in zip(mixed, first_contact.answers, strict=True)
                    if id(request) in fresh_ids and status != 202)

            profile = None
            if args.profile and node is not None and node_app is not None:
                db = node_app[DB]
                labels = {id(db._writer): "node writer", id(db._reader): "node reader"}
                requests = presign(senders, node, f"{node.base}/actors/{CHAPTER}",
                                   args.requests)
                profiler = cProfile.Profile()
                with counting_hops(labels) as hops:
                    profiler.enable()
                    profiled = await run(node, requests, warmup=0)
                    profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
                profile = (profiled, hops, out.getvalue())
            for target in nodes:  # already stored: 202, no new rows
                target.replayed = await run(target, target.replays, warmup=0)
            if fedify is not None:
                fedify_kept = await fedify_count(fedify.base)
        finally:
            for one in served:
                one.stop()
            if fedify_process is not None:
                await stop(fedify_process)
            for runner in reversed(runners):
                await runner.cleanup()
            if pool is not None:
                pool.shutdown()

        stored = {}
        for target in nodes:
            assert target.database is not None
            stored[target.name] = tuple(node_count(target.database, sql) for sql in (
                "SELECT count(*) FROM inbox_activities",
                "SELECT count(DISTINCT iri) FROM inbox_activities",
                "SELECT count(*) FROM remote_objects",
                "SELECT count(*) FROM remote_object_audience"))
        bare_rows = count(bare_db, "SELECT count(*) FROM activities")
        one_hop_rows = count(one_hop_db, "SELECT count(*) FROM activities")

    client = "this process" if args.inline_client else "a child process"
    print(f"Inbox, {args.requests} signed Creates x {args.rounds} rounds, {args.concurrency} in"
          f" flight, {args.senders} senders (RSA-2048, draft-cavage), client in {client}:")
    print(f"  {'case':31} {'accepted/s':>10} {'min':>7} {'max':>7} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'non-202':>7}")
    medians = {}
    for target in targets:
        rates = [r.rate for r in target.runs]
        medians[target.name] = statistics.median(rates)
        p50 = statistics.median(r.percentile(50) for r in target.runs)
        p99 = statistics.median(r.percentile(99) for r in target.runs)
        bad = sum(len(r.answers) - r.accepted for r in target.runs)
        print(f"  {target.name:31} {medians[target.name]:10.0f} {min(rates):7.0f}"
              f" {max(rates):7.0f} {p50:7.1f} {p99:7.1f} {bad:7d}")

    def compare(label: str, a: Target, b: Target, aim: float | None = None,
                missed: str = "BELOW TARGET", word: str = "target") -> None:
        ratio = medians[a.name] / medians[b.name]
        verdict = "" if aim is None else (
            f" ({word} >= {aim:.2f}) {'ok' if ratio >= aim else missed}")
        print(f"  {label}: {ratio:.2f}{verdict}; per round: "
              + " ".join(f"{x.rate / y.rate:.2f}" for x, y in zip(a.runs, b.runs, strict=True)))

    print("Ratios of medians, this run:")
    for target in nodes:
        short = target.name.removeprefix("node: ")
        compare(f"{short} / bare", target, bare, TARGET / 100)
        compare(f"{short} / bare in 1 call", target, one_hop)
        if fedify is not None:
            compare(f"{short} / Fedify", target, fedify, FEDIFY_AIM, "BELOW AIM", "aim")
    by_name = {t.name.removeprefix("node: "): t for t in nodes}
    for a, b in (("postgresql, 2 processes", "postgresql, 1 process"),
                 ("postgresql, 1 process", "sqlite, 1 process"),
                 ("sqlite, 1 process", "sqlite, in this process")):
        if a in by_name and b in by_name:
            compare(f"{a} / {b}", by_name[a], by_name[b])
    if fedify is None:
        print("  node / Fedify: not measured (Fedify case skipped, see above)")
    print(f"  sender side, not timed: {keygen_s * 1000:.0f} ms per RSA-2048 key,"
          f" {statistics.median(sign_s) * 1000:.2f} ms to sign a request")

    checks = {}
    for target in nodes:
        rows, distinct, objects, audience = stored[target.name]
        accepted = target.sent - len(target.replays) - sum(target.refused.values())
        assert target.replayed is not None
        short = target.name.removeprefix("node: ")
        checks |= {
            f"{short}: stored every accepted activity once ({rows} rows, {accepted} accepted)":
                rows == distinct == accepted,
            f"{short}: stored every Note once ({objects} remote objects,"
            f" {audience} audience rows)":
                objects == audience == accepted,
            f"{short}: replays of {len(target.replays)} accepted requests: all 202,"
            " no new rows":
                target.replayed.accepted == len(target.replays),
            f"{short}: first contact under load: {len(fresh)} new senders x 3 requests among"
            f" {20 * len(fresh)} others, refused {dict(target.refused) or 'none'}":
                not target.refused,
        }
    checks |= {
        f"baselines stored every activity once ({bare_rows} and {one_hop_rows} rows,"
        f" {bare.sent} and {one_hop.sent} sent)":
            bare_rows == bare.sent and one_hop_rows == one_hop.sent,
        **({} if fedify is None else {
            f"Fedify kept every activity once ({fedify_kept} in its Map, {fedify.sent} sent)":
                fedify_kept == fedify.sent}),
        "every timed request answered 202":
            all(r.accepted == len(r.answers) for t in targets for r in t.runs),
    }
    print("Checks:")
    for text, passed in checks.items():
        print(f"  {'ok  ' if passed else 'FAIL'} {text}")
    if profile is not None:
        profiled, hops, text = profile
        print(f"One more in-process node round under cProfile ({profiled.rate:.0f}/s):")
        for label, hop_count in sorted(hops.items()):
            print(f"  aiosqlite thread hops per activity, {label}:"
                  f" {hop_count / len(profiled.answers):.1f}")
        print(text)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed POSTs per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--senders", type=int, default=20, help="remote actors (keys)")
    parser.add_argument("--first-contact", type=int, default=20, metavar="N",
                        help="new senders whose first requests arrive under load")
    parser.add_argument("--inline-client", action="store_true",
                        help="drive the servers from this process instead of a child")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the checks, profile one in-process node round (SQLite)"
                             " and print N functions")
    add_engines_option(parser)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
