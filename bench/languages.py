"""What speaking the reader's language costs: the same pages served in English (the source
text, no catalogue lookups) and in Esperanto (every message looked up, dates from CLDR),
side by side in one process, and the time to read and compile the catalogue at start.

An in-process node (the aiohttp test client) with a chapter, 20 items of each kind and
members; --rounds GETs of each page in each language, alternating, so that both see the same
machine. Prints medians and the Esperanto/English ratio.

    .venv/bin/python bench/languages.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tomllib
from datetime import timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from actors.registry import add_member, create_chapter
from chapterhouse.app import create_app
from chapterhouse.config import parse, render_initial
from chapterhouse.services import initialise
from outbox.content import publish_item
from outbox.items import Item
from storage.timestamps import now
from web import i18n
from web.state import DB, NODE

PAGES = ("/", "/@dublin", "/news", "/events", "/chapters")


async def fill(app: object) -> None:
    db = app[DB]  # type: ignore[index]
    urls = app[NODE].urls  # type: ignore[index]
    host = app[NODE].username  # type: ignore[index]
    await create_chapter(db, host, "dublin", "IOPS Dublin", "local", location="Dublin, Ireland")
    for n in range(30):
        await add_member(db, host, f"member{n}", "dublin", f"Member {n}")
    start = now()
    for n in range(20):
        for kind in ("news", "blog", "minutes"):
            await publish_item(db, urls, "dublin", Item(
                kind=kind, title=f"{kind.title()} {n}", summary="A short summary.",
                body="Some **Markdown** text.\n\n" * 5))
        await publish_item(db, urls, "dublin", Item(
            kind="event", title=f"Bookfair {n}", body="Bring books.",
            starts_at=(start + timedelta(days=n + 1)).strftime("%Y-%m-%dT%H:%M"),
            timezone="Europe/Dublin", place_name="Dublin"))


async def main(rounds: int) -> None:
    started = time.perf_counter()
    i18n.translations.cache_clear()
    i18n.translations("eo")
    load_ms = (time.perf_counter() - started) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        raw = tomllib.loads(render_initial("bench.test", "http", "Bench node"))
        raw["storage"]["url"] = str(Path(tmp) / "node.db")
        config = parse(raw, Path(tmp))
        await initialise(config)
        app = create_app(config, deliver=False)
        async with TestClient(TestServer(app)) as client:
            await fill(app)
            print(f"catalogue read and compiled at start: {load_ms:.1f} ms "
                  f"({len(i18n.translations('eo')._catalog)} entries)")
            print(f"{'page':<12} {'English':>10} {'Esperanto':>10} {'ratio':>7}")
            for page in PAGES:
                timings: dict[str, list[float]] = {"en": [], "eo": []}
                for _round in range(rounds):
                    for code in ("en", "eo"):
                        began = time.perf_counter()
                        response = await client.get(page, headers={"Accept": "text/html"},
                                                    cookies={i18n.COOKIE: code})
                        await response.read()
                        timings[code].append((time.perf_counter() - began) * 1000)
                        assert response.status == 200, (page, response.status)
                en, eo = (statistics.median(timings[c]) for c in ("en", "eo"))
                print(f"{page:<12} {en:>8.2f}ms {eo:>8.2f}ms {eo / en:>7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
