"""Search and archives on a node of 100,000 items, on each engine.

Builds a database of 100,000 searchable things (90,000 items of every kind by 50
chapters over ten years, 5,000 members' notes, 5,000 minutes relayed from remote
subchapters), with text made from the seed's IOPS pages (../shared/seeds) and a rare
word in three items only. Rows go in with the storage seam's executemany, in batches of
a transaction each; the search index is filled by the migration's triggers as they go,
as on a node. Then it times, each the median of --runs runs, the first page of results
of typical searches (one word, two words, a rare word, a phrase, and a word in most
items) and of the archives (node news, its 200th page by cursor, node minutes merged
with the relayed ones), and prints how each archive statement is read (EXPLAIN).

    .venv/bin/python bench/search.py [--runs 7] [--engines sqlite,postgresql]

Building takes about a minute on each engine on a small machine (2 cores), the whole run
about five minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from served import add_engines_option, cluster_for, storage_url

from chapterhouse import logs
from storage import archives, search
from storage.database import Database
from storage.paging import Cursor

ITEMS = 90_000
NOTES = 5_000
RELAYED = 5_000
CHAPTERS = 50
BATCH = 5_000
RARE = "zyxomancy"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
START = datetime(2016, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=3650)
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
QUERIES = {
    "one word": "ecology",
    "two words": "participatory economics",
    "rare word": RARE,
    "phrase": '"local chapters"',
    "common word": "iops",
}
KINDS = ("news", "blog", "minutes", "event", "poll")


def _words() -> tuple[list[str], list[str]]:
    text = "\n".join(p.read_text() for p in sorted(SEEDS.glob("*.txt"))) if SEEDS.is_dir() \
        else "IOPS local chapters participatory society ecology economics solidarity."
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.split()) > 3]
    return re.findall(r"[A-Za-z][A-Za-z'-]+", text), sentences


def _text(rng: random.Random, words: list[str], sentences: list[str], size: int) -> str:
    # Whole sentences of the seed, and words of it in a new order: realistic frequencies.
    parts: list[str] = []
    while sum(len(p.split()) for p in parts) < size:
        parts.append(rng.choice(sentences) if rng.random() < 0.5
                     else " ".join(rng.choices(words, k=12)).capitalize() + ".")
    return " ".join(parts)


async def build(db: Database) -> float:
    rng = random.Random(11)
    words, sentences = _words()
    began = time.perf_counter()
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO actors (id, kind, handle, name, created_at)"
            " VALUES (?, 'chapter', ?, ?, ?)",
            [(n, f"chapter{n}", f"IOPS Chapter {n}", START) for n in range(1, CHAPTERS + 1)])
        await tx.executemany(
            "INSERT INTO chapters (actor_id, level, founded_at) VALUES (?, 'local', ?)",
            [(n, START) for n in range(1, CHAPTERS + 1)])
        await tx.executemany(
            "INSERT INTO actors (id, kind, handle, name, created_at)"
            " VALUES (?, 'member', ?, ?, ?)",
            [(CHAPTERS + 1, "member", "A member", START)])
        await tx.execute(
            "INSERT INTO remote_actors (iri, type, host, inbox, name, document, fetched_at)"
            " VALUES ('https://far.example/actors/galway', 'Group', 'far.example',"
            " 'https://far.example/inbox', 'IOPS Galway', '{}', ?)", (now,))
    rare = set(rng.sample(range(ITEMS), 3))
    for first in range(0, ITEMS, BATCH):
        objects, items = [], []
        for n in range(first, min(first + BATCH, ITEMS)):
            kind = KINDS[n % len(KINDS)]
            iri = f"https://bench.example/objects/{n}"
            published = START + SPAN * rng.random()
            body = _text(rng, words, sentences, rng.randint(40, 160))
            if n in rare:
                body += f" A word hardly anyone writes: {RARE}."
            starts = published + timedelta(days=30) if kind == "event" else None
            objects.append((n + 1, iri, 1 + n % CHAPTERS, published))
            items.append((n + 1, iri, 1 + n % CHAPTERS, kind,
                          _text(rng, words, sentences, 6)[:120], body,
                          "2024-01-01" if kind == "minutes" else None, starts,
                          "Europe/Dublin" if starts else None,
                          json.dumps(["Yes", "No"]) if kind == "poll" else None, published))
        async with db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO objects (id, iri, actor_id, type, document, published)"
                " VALUES (?, ?, ?, 'Article', '{}', ?)", objects)
            await tx.executemany(
                "INSERT INTO items (id, object_iri, actor_id, kind, title, body, meeting_date,"
                " starts_at, timezone, options, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)", items)
    notes = []
    for n in range(NOTES):
        iri = f"https://bench.example/notes/{n}"
        content = "<p>" + _text(rng, words, sentences, 30) + "</p>"
        notes.append((ITEMS + n + 1, iri, CHAPTERS + 1,
                      json.dumps({"id": iri, "type": "Note", "content": content}),
                      START + SPAN * rng.random()))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO objects (id, iri, actor_id, type, document, published)"
            " VALUES (?, ?, ?, 'Note', ?, ?)", notes)
    relayed, audience = [], []
    for n in range(RELAYED):
        iri = f"https://far.example/objects/{n}"
        content = "<p>" + _text(rng, words, sentences, 80) + "</p>"
        document = {"id": iri, "type": "Article", "name": f"Galway minutes {n}",
                    "content": content, "meetingDate": "2024-01-01", "to": [PUBLIC]}
        relayed.append((n + 1, iri, content, json.dumps(document), START + SPAN * rng.random(),
                        now))
        audience.append((n + 1, 1 + n % CHAPTERS))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO remote_objects (id, iri, type, attributed_to, content, document,"
            " published, received_at, meeting_date) VALUES (?, ?, 'Article',"
            " 'https://far.example/actors/galway', ?, ?, ?, ?, '2024-01-01')", relayed)
        await tx.executemany(
            "INSERT INTO remote_object_audience (object_id, actor_id) VALUES (?, ?)", audience)
    async with db.transaction() as tx:
        await tx.execute("ANALYZE")
    return time.perf_counter() - began


async def median_ms(runs: int, call: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def measure(db: Database, runs: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, query in QUERIES.items():
        page = await search.search(db, query)
        assert page.hits, f"nothing found for {query!r}"
        figures[f"search: {name} ({query})"] = await median_ms(
            runs, lambda q=query: search.search(db, q))  # type: ignore[misc]
    second = (await search.search(db, "ecology")).next
    figures["search: ecology, page 2"] = await median_ms(
        runs, lambda: search.search(db, "ecology", second))
    figures["archive: node news, first page"] = await median_ms(
        runs, lambda: archives.section(db, "news"))
    cursor = None
    for _ in range(199):  # to the 200th page, as a reader paging back would
        older = (await archives.section(db, "news", cursor=cursor)).next
        cursor = archives.cursor_of(older)
    figures["archive: node news, page 200"] = await median_ms(
        runs, lambda: archives.section(db, "news", cursor=cursor))
    figures["archive: node minutes (own + relayed)"] = await median_ms(
        runs, lambda: archives.section(db, "minutes"))
    figures["archive: a chapter's minutes"] = await median_ms(
        runs, lambda: archives.section(db, "minutes", 7))
    figures["archive: node past events"] = await median_ms(
        runs, lambda: archives.past_events(db, datetime.now(UTC)))
    return figures


async def plans(db: Database) -> None:
    cursor = Cursor((START + SPAN / 2, "https://bench.example/objects/5"), True)
    for kind, chapter in (("news", None), ("news", 7), ("minutes", None), ("minutes", 7),
                          ("event", None)):
        for plan in await archives.query_plans(db, kind, chapter, datetime.now(UTC), cursor):
            print(f"  -- {kind}, {'node' if chapter is None else 'chapter'}:")
            print("     " + plan.replace("\n", "\n     "))


async def run(engine: str, url: str | None, runs: int, directory: Path) -> None:
    location = url or directory / "search.sqlite3"
    async with Database(location, migrate=True) as db:
        seconds = await build(db)
        total = await db.fetchvalue("SELECT count(*) FROM search_entries")
        print(f"{engine}: built {total} searchable entries in {seconds:.0f} s")
        for name, ms in (await measure(db, runs)).items():
            print(f"  {name:48} {ms:8.1f} ms")
        await plans(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    add_engines_option(parser)
    args = parser.parse_args()
    logs.configure("console", "warning")
    with cluster_for(args.engines) as cluster, tempfile.TemporaryDirectory() as directory:
        for engine in args.engines:
            asyncio.run(run(engine, storage_url(engine, cluster), args.runs, Path(directory)))


if __name__ == "__main__":
    main()
