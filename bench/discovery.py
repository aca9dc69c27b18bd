"""What discovery costs: requests per second for the documents peers fetch most.

Serves a real node (temporary SQLite file) and a baseline aiohttp app with a trivial
handler in the same process, then drives both with the same client at the same
concurrency, round after round, so the ratio is measured side by side. Also times key
generation (paid once per chapter or member) and pyld expansion (kept off request paths).

    .venv/bin/python bench/discovery.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web
from serving import serve

from actors.keys import generate_actor_keys
from actors.registry import add_member, create_chapter, ensure_node_actor
from chapterhouse import logs
from chapterhouse.app import create_app
from chapterhouse.config import parse, render_initial
from federation import jsonld
from storage.database import Database

AS2 = "application/activity+json"
CONCURRENCY = 16


async def _drive(session: ClientSession, url: str, accept: str, total: int) -> float:
    """Requests per second for `total` GETs at CONCURRENCY in flight."""
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            async with session.get(url, headers={"Accept": accept}) as response:
                await response.read()
                assert response.status == 200, (url, response.status)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - started)


async def main(requests: int, rounds: int) -> None:
    logs.configure("console", "warning")  # as a node runs, minus per-request debug lines
    with tempfile.TemporaryDirectory() as tmp:
        text = render_initial("127.0.0.1:1", "http", "Bench")
        config = parse(tomllib.loads(text), Path(tmp))
        async with Database(config.database, migrate=True) as db:
            await ensure_node_actor(db, config.name)
            await create_chapter(db, config.hostname, "dublin", "IOPS Dublin", "local",
                                 "Dublin, Ireland", "Organising in Dublin.")
            for i in range(30):
                await add_member(db, config.hostname, f"member{i}", "dublin")

        async def trivial(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        baseline = web.Application()
        baseline.router.add_get("/", trivial)
        node_runner, node_port = await serve(create_app(config))
        base_runner, base_port = await serve(baseline)
        node = f"http://127.0.0.1:{node_port}"
        cases = {
            "baseline: trivial aiohttp handler": (f"http://127.0.0.1:{base_port}/", AS2),
            "actor document (AS2)": (f"{node}/actors/dublin", AS2),
            "webfinger": (f"{node}/.well-known/webfinger?resource=acct:dublin@127.0.0.1:1",
                          "application/jrd+json"),
            "nodeinfo 2.1": (f"{node}/nodeinfo/2.1", "application/json"),
            "followers collection": (f"{node}/actors/dublin/followers?page=1", AS2),
            "chapter page (HTML, 30 members)": (f"{node}/@dublin", "text/html"),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        connector = TCPConnector(limit=CONCURRENCY)
        async with ClientSession(connector=connector) as session:
            for url, accept in cases.values():  # warm up
                await _drive(session, url, accept, 200)
            for _ in range(rounds):
                for name, (url, accept) in cases.items():
                    results[name].append(await _drive(session, url, accept, requests))
        await node_runner.cleanup()
        await base_runner.cleanup()

    baseline_median = statistics.median(results["baseline: trivial aiohttp handler"])
    print(f"HTTP, {requests} requests x {rounds} rounds, {CONCURRENCY} in flight, "
          "client and server in one process (one core):")
    print(f"  {'case':36} {'median req/s':>12} {'min':>8} {'max':>8} {'vs baseline':>11}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:36} {median:12.0f} {min(values):8.0f} {max(values):8.0f} "
              f"{median / baseline_median:11.2f}")

    def timed(fn, n: int) -> float:  # type: ignore[no-untyped-def]
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    print("Per operation (median):")
    keygen = timed(generate_actor_keys, 15)
    print(f"  key pairs for one new actor (RSA-2048 + Ed25519): {keygen:.1f} ms")
    doc = {"@context": ["https://www.w3.org/ns/activitystreams"], "type": "Group",
           "id": "https://a.example/actors/x", "name": "x"}
    print(f"  pyld expand of a small AS2 document: {timed(lambda: jsonld.expand(doc), 50):.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
