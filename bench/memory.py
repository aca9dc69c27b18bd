"""Peak memory of a real serving node at bench/scale.py's big size, against its small size.

For each size and each engine of --engines (sqlite,postgresql by default; PostgreSQL on a
throwaway cluster started for the run, its server's memory not counted), a node is made
with `chapterhouse init` (through chapterhouse.harness, the one way nodes are started),
filled by scale.py's own builder, so the rows are the ones scale.py times, and served by
`chapterhouse serve` in its own process. Every endpoint
scale.py times is then requested, one at a time and in concurrent bursts, round after
round; the process's peak resident set (VmHWM in /proc/PID/status) and its resident set
before and after are read while it still runs. The target: the big node peaks under
100 MiB. Linux only (it reads /proc). Exit status 1 if the target is missed.

--tracemalloc N also starts the big node under tracemalloc and prints the N source lines
that hold the most memory after the load, less what they held once it was serving: where
the growth went (figures include tracemalloc's own cost, so the RSS of that run is not
the one to compare with the target).

    .venv/bin/python bench/memory.py [--rounds 10] [--concurrency 8] [--tracemalloc 25]
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from aiohttp import ClientSession
from inbox_throughput import (
    Target,
    actor_documents,
    bound_socket,
    make_senders,
    presign,
    senders_app,
    serve,
)
from scale import BIG, CHAPTER, SMALL, Scale, build, endpoints
from served import add_engines_option, cluster_for, settings_for

from chapterhouse import logs
from chapterhouse.config import load
from chapterhouse.harness import FEDERATING, Node, wait_for
from federation.urls import Urls
from storage.database import Database

TARGET_MIB = 100

# Run inside the node (as sitecustomize, found first on its PYTHONPATH) when --tracemalloc
# is given: the node's code is left as it is, and SIGUSR1 writes a snapshot to the file
# named by the environment, so the bench can take one before and one after its load.
TRACER = """\
import os, signal, tracemalloc
_out = os.environ.get("CHAPTERHOUSE_BENCH_SNAPSHOT")
if _out:
    tracemalloc.start(1)
    _taken = [0]
    def _dump(signum, frame):
        _taken[0] += 1
        # Renamed once whole, so that the bench never reads a half-written file.
        tracemalloc.take_snapshot().dump(f"{_out}.part")
        os.replace(f"{_out}.part", f"{_out}.{_taken[0]}")
    signal.signal(signal.SIGUSR1, _dump)
"""


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) etc. of a running process, in KiB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Vm") and value.strip().endswith("kB"):
            figures[key] = int(value.split()[0])
    return figures


def mib(kib: int) -> str:
    return f"{kib / 1024:7.1f}"


async def fill(node: Node, scale: Scale) -> dict[str, str]:
    """The node's database filled as scale.py fills its nodes; the paths it returns."""
    config = load(node.data)
    async with Database(config.database) as db:
        return await build(db, Urls(config.base_url), scale)


async def load_node(node: Node, paths: dict[str, str], rounds: int, concurrency: int,
                    senders: int, posts: int) -> int:
    """Every endpoint, `rounds` times one at a time and `rounds` times in bursts of
    `concurrency`, and `posts` signed Creates to the chapter's inbox from `senders`
    remote actors; the number of requests made."""
    made = 0
    # The senders' actors are served from here; the node fetches each one's key on first
    # contact, so its in-memory actor and key caches fill as a federating node's do.
    sock = bound_socket()
    sender_base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    remote = make_senders(range(senders), sender_base) if posts else []
    runner, _ = await serve(senders_app(actor_documents(remote, sender_base)), sock)
    async with ClientSession() as session:
        cases = await endpoints(session, node.base, paths)
        # scale.py's nodes are all 127.0.0.1:1; this one answers for its own domain.
        cases["webfinger"] = (f"/.well-known/webfinger?resource=acct:{CHAPTER}@{node.domain}",
                              "application/jrd+json")

        async def get(path: str, accept: str) -> None:
            async with session.get(node.base + path, headers={"Accept": accept}) as response:
                body = await response.read()
                assert response.status == 200, (path, response.status, body[:200])

        async def post(path: str, headers: dict[str, str], body: bytes) -> None:
            async with session.post(node.base + path, data=body, headers=headers) as response:
                answer = await response.read()
                assert response.status == 202, (path, response.status, answer[:200])

        for _ in range(rounds):
            for path, accept in cases.values():
                await get(path, accept)
                # A burst holds many responses in memory at once, as a busy node does.
                await asyncio.gather(*(get(path, accept) for _ in range(concurrency)))
                made += 1 + concurrency
        # Signed only now, after the reading, since the node refuses a stale Date; each
        # sender's first POST comes alone, so that its key is fetched once.
        target = Target("node", node.base, f"/actors/{CHAPTER}/inbox")
        audience = f"{node.base}/actors/{CHAPTER}"
        first = presign(remote, target, audience, len(remote))
        rest = presign(remote, target, audience, max(0, posts - len(remote)))
        for path, headers, body in first:
            await post(path, headers, body)
        for i in range(0, len(rest), concurrency):
            await asyncio.gather(*(post(*signed) for signed in rest[i:i + concurrency]))
        made += len(first) + len(rest)
    await runner.cleanup()
    return made


def measure(tmp: Path, label: str, scale: Scale, rounds: int, concurrency: int,
            senders: int, posts: int, settings: dict[str, object],
            tracer: Path | None = None, top: int = 0) -> dict[str, int]:
    node = Node.init(tmp, label, settings=settings)
    started = time.perf_counter()
    paths = asyncio.run(fill(node, scale))
    print(f"built the {label} node in {time.perf_counter() - started:.1f} s", flush=True)
    snapshot = tmp / f"{label}.snapshot"
    saved = dict(os.environ)
    if tracer is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(tracer), *filter(None, [os.environ.get("PYTHONPATH")])])
        os.environ["CHAPTERHOUSE_BENCH_SNAPSHOT"] = str(snapshot)
    try:
        node.start(timeout=120)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert node.process is not None
    pid = node.process.pid
    try:
        time.sleep(1)  # let start-up work (schedules, first queries) settle
        figures = {"started": status_kib(pid)["VmRSS"]}
        if tracer is not None:
            node.process.send_signal(signal.SIGUSR1)
            wait_for(lambda: Path(f"{snapshot}.1").exists(), 60, "the first snapshot")
        started = time.perf_counter()
        made = asyncio.run(load_node(node, paths, rounds, concurrency, senders, posts))
        after = status_kib(pid)
        print(f"  {made} requests to the {label} node in {time.perf_counter() - started:.1f} s",
              flush=True)
        figures |= {"peak": after["VmHWM"], "after": after["VmRSS"]}
        if tracer is not None:
            node.process.send_signal(signal.SIGUSR1)
            wait_for(lambda: Path(f"{snapshot}.2").exists(), 60, "the second snapshot")
    finally:
        node.stop()
    if tracer is not None:
        report_growth(snapshot, top)
    return figures


def report_growth(snapshot: Path, top: int) -> None:
    before = tracemalloc.Snapshot.load(f"{snapshot}.1")
    after = tracemalloc.Snapshot.load(f"{snapshot}.2")
    print(f"\ntraced: {sum(s.size for s in after.statistics('filename')) / 2**20:.1f} MiB "
          f"after the load; top {top} lines by size, with growth during the load:")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        print(f"  {stat.size / 1024:9.0f} KiB  {stat.size_diff / 1024:+9.0f} KiB  "
              f"{stat.count:7d} blocks  {frame.filename}:{frame.lineno}")


def main(args: argparse.Namespace) -> int:
    logs.configure("console", "warning")
    results: dict[tuple[str, str], dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp, cluster_for(args.engines) as cluster:
        tracer = None
        if args.tracemalloc:
            tracer = Path(tmp) / "tracer"
            tracer.mkdir()
            (tracer / "sitecustomize.py").write_text(TRACER)
        for engine in args.engines:
            for label, scale in (("small", SMALL), ("big", BIG)):
                # The senders are on 127.0.0.1.
                settings = settings_for(engine, cluster, FEDERATING)
                results[engine, label] = measure(
                    Path(tmp), f"{engine}-{label}", scale, args.rounds, args.concurrency,
                    args.senders, args.posts, settings,
                    *((tracer, args.tracemalloc) if label == "big" else ()))
    print(f"\nMiB of a `chapterhouse serve` process, {args.rounds} rounds of every scale.py "
          f"endpoint, one at a time and {args.concurrency} at once, then {args.posts} signed "
          f"POSTs to the inbox from {args.senders} senders")
    columns = [(engine, label) for engine in args.engines for label in ("small", "big")]
    print(f"  {'':24}" + "".join(f" {f'{label}, {engine}':>18}" for engine, label in columns))
    for key, name in (("started", "RSS once serving"), ("after", "RSS after the load"),
                      ("peak", "peak RSS (VmHWM)")):
        print(f"  {name:24}" + "".join(f" {mib(results[c][key]):>18}" for c in columns))
    met = True
    note = " (under tracemalloc, which adds its own)" if args.tracemalloc else ""
    for engine in args.engines:
        ok = results[engine, "big"]["peak"] < TARGET_MIB * 1024
        met = met and ok
        print(f"target on {engine}: big node's peak under {TARGET_MIB} MiB{note}: "
              f"{'met' if ok else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--senders", type=int, default=200,
                        help="remote actors whose keys the node fetches and keeps")
    parser.add_argument("--posts", type=int, default=2000,
                        help="signed Creates POSTed to the chapter's inbox (0: none)")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                        help="also print the N lines holding the most memory in the big node")
    add_engines_option(parser)
    sys.exit(main(parser.parse_args()))
