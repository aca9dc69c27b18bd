"""/chapters with thousands of chapters known: the time to answer the page, its two queries
and the tree drawn from them.

A node (in-process app, the aiohttp test client) with --local chapters of its own under one
national chapter and --remote chapters elsewhere below them: a quarter accepted
subchapters of ours, the rest below those (known from what they passed on, each with an
actor document naming its parent), all with place, founding date and level. Prints the
median and worst of --rounds GETs of /chapters, of /chapters?place=... (a filtered view),
each after a commit (the tree read and drawn) and again (the tree kept while nothing was
committed), and of the storage call alone; a page that read each chapter's parent or member count on
its own (N+1) would take seconds here, not milliseconds.

    .venv/bin/python bench/chapter_tree.py [--remote 5000] [--local 100] [--rounds 10]
        [--engines sqlite,postgresql]   (PostgreSQL on a throwaway cluster, as bench/served.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from served import add_engines_option, cluster_for, storage_url

from actors.registry import create_chapter
from chapterhouse.app import create_app
from chapterhouse.config import parse, render_initial
from chapterhouse.services import initialise
from storage import chapter_tree
from storage.database import Database
from storage.timestamps import now
from web.state import DB

OTHER = "https://other.example"
LEVELS = ("regional", "local")


async def fill(db: Database, prefix: str, host: str, local: int, remote: int) -> None:
    await create_chapter(db, host, "ireland", "IOPS Ireland", "national", location="Ireland")
    async with db.transaction() as tx:
        top = int(await tx.fetchvalue("SELECT id FROM actors WHERE handle = 'ireland'"))
    for n in range(local):
        await create_chapter(db, host, f"town{n:04d}", f"IOPS Town {n}", "local",
                             location=f"Town {n}, Ireland")
    stamp = now()
    async with db.transaction() as tx:
        ids = [int(r[0]) for r in await tx.fetchall(
            "SELECT id FROM actors WHERE handle LIKE 'town%' ORDER BY id")]
        await tx.executemany(
            "INSERT INTO parents (chapter_id, parent_iri, state, join_iri, created_at)"
            " VALUES (?, ?, 'accepted', ?, ?)",
            [(i, prefix + "ireland", f"{prefix}{i}#join", stamp) for i in ids])
        direct = max(1, remote // 4)
        actors, subchapters, objects = [], [], []
        for n in range(remote):
            iri = f"{OTHER}/actors/c{n:05d}"
            parent = prefix + "ireland" if n < direct else f"{OTHER}/actors/c{n % direct:05d}"
            document = {
                "id": iri, "type": "Group", "preferredUsername": f"c{n:05d}",
                "name": f"IOPS Chapter {n}", "level": LEVELS[n >= direct],
                "location": {"type": "Place", "name": f"Place {n}"},
                "published": "2020-01-01T00:00:00Z", "url": f"{OTHER}/@c{n:05d}",
                "parent": parent, "inbox": f"{iri}/inbox",
                "summary": "A chapter of the bench. " * 20}
            actors.append((iri, f"{iri}/inbox", f"c{n:05d}", document["name"],
                           json.dumps(document), stamp))
            if n < direct:
                subchapters.append((top, iri, f"{iri}#join", stamp, stamp))
            else:
                objects.append((f"{OTHER}/objects/{n}", iri, stamp, stamp, parent))
        await tx.executemany(
            "INSERT INTO remote_actors (iri, type, host, inbox, username, name, document,"
            " fetched_at) VALUES (?, 'Group', 'other.example', ?, ?, ?, ?, ?)", actors)
        await tx.executemany(
            "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
            " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)", subchapters)
        await tx.executemany(
            "INSERT INTO remote_objects (iri, type, attributed_to, document, published,"
            " received_at, via) VALUES (?, 'Note', ?, '{}', ?, ?, ?)", objects)


def figures(label: str, times: list[float]) -> None:
    print(f"{label:<42} median {statistics.median(times) * 1000:8.1f} ms"
          f"   worst {max(times) * 1000:8.1f} ms")


async def run(args: argparse.Namespace, storage: str | None) -> None:
    with tempfile.TemporaryDirectory() as directory:
        raw = tomllib.loads(render_initial("node.test", "http", "Bench node"))
        raw["storage"]["url"] = storage or str(Path(directory) / "node.sqlite")
        config = parse(raw, Path(directory))
        await initialise(config)
        app = create_app(config, deliver=False)
        async with TestClient(TestServer(app)) as client:
            db = app[DB]
            prefix = config.base_url + "/actors/"
            started = time.perf_counter()
            await fill(db, prefix, config.hostname, args.local, args.remote)
            if db.engine == "postgresql":
                # As autovacuum would have by now on a node that grew to this size: a plan
                # made without statistics is not the one a real node runs.
                async with db.transaction() as tx:
                    await tx.execute("ANALYZE")
            print(f"filled: {args.local} local + {args.remote} remote chapters"
                  f" in {time.perf_counter() - started:.1f} s ({db.engine})")
            known = await chapter_tree.known_chapters(db, prefix)
            assert len(known) == args.local + 1 + args.remote, len(known)
            for label, path in (("GET /chapters", "/chapters"),
                                ("GET /chapters?place=place 12", "/chapters?place=place+12"),
                                ("GET /chapters?level=local", "/chapters?level=local")):
                drawn: list[float] = []
                kept: list[float] = []
                for _ in range(args.rounds):
                    # A commit first: the tree is read and drawn again, not the one kept.
                    async with db.transaction() as tx:
                        await tx.execute("UPDATE remote_actors SET fetched_at = ?"
                                         " WHERE iri = ?", (now(), f"{OTHER}/actors/c00000"))
                    for times in (drawn, kept):
                        started = time.perf_counter()
                        response = await client.get(path, headers={"Accept": "text/html"})
                        body = await response.text()
                        times.append(time.perf_counter() - started)
                        assert response.status == 200, body[:500]
                figures(f"{label} ({len(body) // 1024} KiB)", drawn)
                figures("  the same again, nothing committed", kept)
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                await chapter_tree.known_chapters(db, prefix)
                times.append(time.perf_counter() - started)
            figures("storage: known_chapters (4 queries)", times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remote", type=int, default=5000)
    parser.add_argument("--local", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    add_engines_option(parser)
    args = parser.parse_args()
    with cluster_for(args.engines) as cluster:
        for engine in args.engines:
            asyncio.run(run(args, storage_url(engine, cluster)))


if __name__ == "__main__":
    main()
