"""Inbox throughput: signed activities a real node accepts per second, against a bare handler.

A node (temporary SQLite file, chapter `dublin`) and a "senders" app serving remote Person
actors, each with its own RSA-2048 key, run on 127.0.0.1 in this process. Creates of Notes
addressed to the chapter are signed ahead of time (draft-cavage, fresh ids, Date = now; the
signing is the sender's cost and stays outside the timed part), then POSTed to
/actors/dublin/inbox with a fixed number in flight. Each request makes the node verify,
dedupe, record the activity and store the Note (the remote object) before it answers 202.

The baseline, served by this process too and driven by the same client with requests signed
the same way (other ids): a bare aiohttp handler that parses the JSON, verifies the signature
with `verify_request` and a key it already holds, and inserts one row with aiosqlite in a
transaction. Node and baseline take turns, round after round; figures are medians over rounds.

The client runs in a child process by default, so that the servers get this process (about a
core) to themselves on a small machine; --inline-client drives them from this process, as
bench/discovery.py does. At the end every activity must be stored exactly once, and replays
of already accepted requests must change nothing.

    .venv/bin/python bench/inbox.py [--requests 2000] [--rounds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import cProfile
import io
import json
import multiprocessing
import pstats
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import tomllib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Run as `python bench/inbox.py`, this file's directory comes first on sys.path, and this
# file would stand in for the project's `inbox` package.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import aiosqlite
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from actors.registry import create_chapter, ensure_node_actor
from chapterhouse import logs
from chapterhouse.app import create_app
from chapterhouse.config import parse, render_initial
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

CHAPTER = "dublin"
TARGET = 50  # percent of the bare handler's rate that the node should reach

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
    """One driven batch as the client saw it."""

    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Target:
    name: str
    base: str  # http://127.0.0.1:PORT
    path: str
    sent: int = 0
    runs: list[Drive] = field(default_factory=list)


# --- the client (in this process or in a child) -----------------------------------------


async def drive(base: str, requests: list[Signed], concurrency: int, warmup: int) -> Drive:
    """POST `requests` at `concurrency` in flight; the first `warmup` are not timed."""
    connector = TCPConnector(limit=concurrency, force_close=False)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=60)) as session:

        async def send(batch: list[Signed], record: bool) -> None:
            items = iter(batch)

            async def worker() -> None:
                for path, headers, body in items:
                    started = time.perf_counter()
                    async with session.post(base + path, data=body, headers=headers) as response:
                        await response.read()
                    if record:
                        latencies.append((time.perf_counter() - started) * 1000)
                        statuses[response.status] += 1
                    elif response.status != 202:
                        statuses[response.status] += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await send(requests[:warmup], record=False)
        started = time.perf_counter()
        await send(requests[warmup:], record=True)
        seconds = time.perf_counter() - started
    return Drive(seconds, latencies, dict(statuses))


def drive_in_child(base: str, requests: list[Signed], concurrency: int, warmup: int) -> Drive:
    return asyncio.run(drive(base, requests, concurrency, warmup))


# --- the remote senders -------------------------------------------------------------------


def make_senders(count: int, base: str) -> list[Sender]:
    senders = []
    for i in range(count):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        actor = f"{base}/users/s{i}"
        senders.append(Sender(actor, SigningKey(f"{actor}#main-key", key), pem.decode()))
    return senders


def senders_app(senders: list[Sender], base: str) -> web.Application:
    documents = {
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


# --- the baseline -------------------------------------------------------------------------


async def bare_app(path: Path, keys: dict[str, PublicKey]) -> web.Application:
    """Parse, verify with a key held in memory, insert one row in a transaction, 202."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
        await conn.execute(f"PRAGMA {pragma}")
    await conn.execute(
        "CREATE TABLE activities (id INTEGER PRIMARY KEY, iri TEXT NOT NULL UNIQUE,"
        " actor TEXT NOT NULL, document TEXT NOT NULL)"
    )
    lock = asyncio.Lock()

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        document = json.loads(body)
        try:
            _scheme, key_id = signature_key_id(request.headers)
            verify_request(request.method, request.raw_path, request.headers, body, keys[key_id])
        except (SignatureError, KeyError):
            return web.Response(status=401)
        async with lock:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                await conn.execute(
                    "INSERT INTO activities (iri, actor, document) VALUES (?, ?, ?)"
                    " ON CONFLICT (iri) DO NOTHING",
                    (document["id"], document["actor"], body.decode()),
                )
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        return web.Response(status=202)

    async def close(app: web.Application) -> None:
        await conn.close()

    app = web.Application()
    app.router.add_post(f"/actors/{CHAPTER}/inbox", inbox)
    app.on_cleanup.append(close)
    return app


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


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return int(conn.execute(sql).fetchone()[0])


async def main(args: argparse.Namespace) -> int:
    logs.configure("console", "warning")  # as a node runs, minus per-request info lines
    loop = asyncio.get_running_loop()
    pool = None if args.inline_client else concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    async def run(target: Target, requests: list[Signed], warmup: int) -> Drive:
        target.sent += len(requests)
        if pool is None:
            return await drive(target.base, requests, args.concurrency, warmup)
        return await loop.run_in_executor(
            pool, drive_in_child, target.base, requests, args.concurrency, warmup)

    with tempfile.TemporaryDirectory() as tmp:
        node_sock = bound_socket()
        domain = f"127.0.0.1:{node_sock.getsockname()[1]}"
        raw = tomllib.loads(render_initial(domain, "http", "Bench"))
        raw["federation"]["allow_private_addresses"] = True
        config = parse(raw, Path(tmp))
        async with Database(config.database) as db:
            await ensure_node_actor(db, config.name)
            await create_chapter(db, config.hostname, CHAPTER, "IOPS Dublin", "local",
                                 "Dublin, Ireland", "Organising in Dublin.")
        chapter_id = f"{config.base_url}/actors/{CHAPTER}"

        sender_sock = bound_socket()
        sender_base = f"http://127.0.0.1:{sender_sock.getsockname()[1]}"
        started = time.perf_counter()
        senders = make_senders(args.senders, sender_base)
        keygen_s = time.perf_counter() - started
        bare_db = Path(tmp) / "bare.sqlite3"
        runners = [
            (await serve(senders_app(senders, sender_base), sender_sock))[0],
            (await serve(create_app(config, deliver=False), node_sock))[0],
        ]
        bare_runner, bare_base = await serve(
            await bare_app(bare_db, {s.key_id: s.key.private_key.public_key() for s in senders}))
        runners.append(bare_runner)
        path = f"/actors/{CHAPTER}/inbox"
        node = Target("node: /actors/dublin/inbox", config.base_url, path)
        bare = Target("bare: parse+verify+insert", bare_base, path)
        replays: list[Signed] = []
        sign_s: list[float] = []
        try:
            # Warm up: the first request of each sender makes the node fetch its actor.
            for target in (node, bare):
                first = presign(senders, target, chapter_id, max(args.senders, 200))
                warm = await run(target, first, warmup=0)
                if warm.accepted != len(first):
                    raise SystemExit(f"{target.name}: warm-up answered {warm.statuses}")
                if target is node:
                    replays = first[: args.senders]
            for round_ in range(args.rounds):
                order = (node, bare) if round_ % 2 == 0 else (bare, node)
                for target in order:
                    started = time.perf_counter()
                    requests = presign(senders, target, chapter_id,
                                       args.requests + args.concurrency)
                    sign_s.append((time.perf_counter() - started) / len(requests))
                    target.runs.append(await run(target, requests, warmup=args.concurrency))
            profile = None
            if args.profile:
                requests = presign(senders, node, chapter_id, args.requests)
                profiler = cProfile.Profile()
                profiler.enable()
                profiled = await run(node, requests, warmup=0)
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
                profile = (profiled, out.getvalue())
            replayed = await run(node, replays, warmup=0)  # already stored: 202, no new rows
        finally:
            for runner in reversed(runners):
                await runner.cleanup()
            if pool is not None:
                pool.shutdown()

        stored = count(config.database, "SELECT count(*) FROM inbox_activities")
        distinct = count(config.database, "SELECT count(DISTINCT iri) FROM inbox_activities")
        objects = count(config.database, "SELECT count(*) FROM remote_objects")
        audience = count(config.database, "SELECT count(*) FROM remote_object_audience")
        bare_rows = count(bare_db, "SELECT count(*) FROM activities")

    node_sent = node.sent - len(replays)
    client = "inline (this process)" if args.inline_client else "a child process"
    print(f"Inbox, {args.requests} signed Creates x {args.rounds} rounds, {args.concurrency} in"
          f" flight, {args.senders} senders (RSA-2048, draft-cavage); client in {client}:")
    print(f"  {'case':28} {'accepted/s':>10} {'min':>7} {'max':>7} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'non-202':>7}")
    medians = {}
    for target in (node, bare):
        rates = [r.rate for r in target.runs]
        medians[target.name] = statistics.median(rates)
        p50 = statistics.median(r.percentile(50) for r in target.runs)
        p99 = statistics.median(r.percentile(99) for r in target.runs)
        bad = sum(n for r in target.runs for s, n in r.statuses.items() if s != 202)
        print(f"  {target.name:28} {medians[target.name]:10.0f} {min(rates):7.0f}"
              f" {max(rates):7.0f} {p50:7.1f} {p99:7.1f} {bad:7d}")
    ratio = medians[node.name] / medians[bare.name]
    print(f"  node / bare: {ratio:.2f} (target >= {TARGET / 100:.2f})"
          f" {'ok' if ratio >= TARGET / 100 else 'BELOW TARGET'}")
    print("  per-round ratios: "
          + " ".join(f"{a.rate / b.rate:.2f}" for a, b in zip(node.runs, bare.runs, strict=True)))
    print(f"  sender side, not timed: {args.senders} RSA-2048 keys in {keygen_s:.1f} s,"
          f" signing {statistics.median(sign_s) * 1000:.2f} ms per request")

    checks = {
        f"node stored every activity once ({stored} rows, {node_sent} sent)":
            stored == distinct == node_sent,
        f"node stored every Note once ({objects} remote objects, {audience} audience rows)":
            objects == audience == node_sent,
        f"replays of {len(replays)} accepted requests: 202, no new rows"
            f" ({replayed.statuses})": replayed.accepted == len(replays),
        f"bare stored every activity once ({bare_rows} rows, {bare.sent} sent)":
            bare_rows == bare.sent,
        "every timed request answered 202":
            all(set(r.statuses) == {202} for t in (node, bare) for r in t.runs),
    }
    print("Checks:")
    for text, passed in checks.items():
        print(f"  {'ok  ' if passed else 'FAIL'} {text}")
    if profile is not None:
        profiled, text = profile
        print(f"Profile of the node's process during one more round ({profiled.rate:.0f}/s under"
              " cProfile), by own time:")
        print(text)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed POSTs per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--senders", type=int, default=20, help="remote actors (keys)")
    parser.add_argument("--inline-client", action="store_true",
                        help="drive the servers from this process instead of a child")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the rounds, profile one node round and print N functions")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
