"""Flat as the node grows: every page, collection and feed on a big node ÷ on a small one.

Builds the nodes through the project's storage code (bulk where one-by-one would take
minutes: one generated key pair is reused by every actor, remote objects go in with one
executemany), serves both in this process on 127.0.0.1, and times the same endpoints on
each, round after round, so the ratio is measured side by side in one run. It does so on
every engine of --engines (sqlite,postgresql by default; PostgreSQL on a throwaway cluster
started for the run), and prints each endpoint's PostgreSQL time over its SQLite time too.

The big node: 200 chapters, 5,000 members of the measured chapter, 10,000 followers of it
on 1,000 hosts, 5,000 local items, 100,000 stored remote objects (1,000 of them replies to
one item, some minutes passed up from subchapters). The small node: a few rows of each.

    .venv/bin/python bench/scale.py [--rounds 15] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession
from served import add_engines_option, cluster_for, storage_url
from serving import serve

from actors.keys import generate_actor_keys
from chapterhouse import logs
from chapterhouse.app import create_app
from chapterhouse.config import Config, parse, render_initial
from federation.urls import Urls
from outbox import activities
from outbox.items import Item, stored_fields, to_ap
from storage import actors as actor_store
from storage import inbox as inbox_store
from storage import items as item_store
from storage.database import Database, utcnow
from storage.timestamps import at

AS2 = "application/activity+json"
CHAPTER = "ireland"  # the chapter every chapter-level endpoint is measured on
KINDS = ("news", "blog", "minutes", "event", "poll")


@dataclass(frozen=True)
class Scale:
    chapters: int
    members: int
    followers: int
    hosts: int
    items: int
    remote_objects: int
    replies: int
    minutes_from_below: int


SMALL = Scale(chapters=3, members=3, followers=3, hosts=2, items=10, remote_objects=12,
              replies=3, minutes_from_below=2)
# Small in rows, but with every bounded list full (five of each kind on a chapter page,
# twenty to an outbox page): big ÷ this separates growth from how full a page is.
FULL = Scale(chapters=3, members=30, followers=50, hosts=5, items=300, remote_objects=120,
             replies=30, minutes_from_below=20)
BIG = Scale(chapters=200, members=5_000, followers=10_000, hosts=1_000, items=5_000,
            remote_objects=100_000, replies=1_000, minutes_from_below=2_000)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _item(kind: str, i: int, now: datetime) -> Item:
    title = f"{kind.title()} number {i}"
    body = f"Some **text** of {kind} {i}, as long as a short post usually is. " * 3
    if kind == "minutes":
        return Item(kind, title, body=body, meeting_date=(now - timedelta(days=i % 300))
                    .strftime("%Y-%m-%d"))
    if kind == "event":
        start = now + timedelta(days=1 + i % 120)
        return Item(kind, title, body=body, starts_at=start.isoformat(),
                    ends_at=(start + timedelta(hours=2)).isoformat(), timezone="Europe/Dublin",
                    place_name="The hall", address="1 Main Street")
    if kind == "poll":
        return Item(kind, title, options=["yes", "no", "later"],
                    closes_at=_stamp(now + timedelta(days=30)))
    return Item(kind, title, body=body)


async def build(db: Database, urls: Urls, scale: Scale) -> dict[str, str]:
    """Fill an empty node; returns the paths the endpoints need."""
    keys = await asyncio.to_thread(generate_actor_keys)  # one pair for every actor
    now = datetime.now(UTC)
    await actor_store.ensure_node_actor(db, "Bench", keys)
    chapter_ids: dict[str, int] = {}
    for i in range(scale.chapters):
        handle = CHAPTER if i == 0 else f"chapter{i}"
        chapter_ids[handle] = await actor_store.create_chapter(
            db, handle, f"Chapter {handle}", "national" if i == 0 else "local",
            f"Town {i}", "Organising.", None, keys)
    member_ids = [await actor_store.create_member(db, f"member{i}", f"Member {i}", CHAPTER,
                                                  None, keys)
                  for i in range(scale.members)]
    ireland = chapter_ids[CHAPTER]

    # Other chapters of this node are the measured chapter's subchapters.
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
            " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
            [(ireland, urls.actor(h), urls.activity(activities.new_id()), utcnow(), utcnow())
             for h in chapter_ids if h != CHAPTER])

    # Followers on `hosts` hosts, each with a cached actor document.
    followers = [f"https://host{i % scale.hosts}.example/users/u{i}"
                 for i in range(scale.followers)]
    async with db.transaction() as tx:
        for iri in followers:
            await inbox_store.add_follower(tx, ireland, iri, f"{iri}#follow", "accepted")
        await tx.executemany(
            "INSERT INTO remote_actors (iri, type, host, inbox, shared_inbox, username, name,"
            " document, fetched_at) VALUES (?, 'Person', ?, ?, ?, ?, ?, ?, ?)",
            [(iri, urlsplit(iri).netloc, f"{iri}/inbox",
              f"https://{urlsplit(iri).netloc}/inbox", iri.rsplit("/", 1)[1],
              f"User {iri.rsplit('/', 1)[1]}",
              json.dumps({"id": iri, "type": "Person", "name": "U"}), utcnow())
             for iri in followers])
        # Remote chapters below the measured one, whose minutes reach it.
        groups = [f"https://host{i}.example/groups/g{i}" for i in range(min(20, scale.hosts))]
        await tx.executemany(
            "INSERT INTO remote_actors (iri, type, host, inbox, shared_inbox, username, name,"
            " document, fetched_at) VALUES (?, 'Group', ?, ?, NULL, ?, ?, ?, ?)",
            [(g, urlsplit(g).netloc, f"{g}/inbox", g.rsplit("/", 1)[1], f"Group {g}",
              json.dumps({"id": g, "type": "Group", "name": f"Group {g}",
                          "chapterLevel": "local", "published": "2020-01-01T00:00:00Z"}),
              utcnow()) for g in groups])
        await tx.executemany(
            "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
            " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
            [(ireland, g, f"{g}#join", utcnow(), utcnow()) for g in groups])

    # Items: a quarter by the measured chapter, the rest by other chapters and members.
    authors = [(h, i) for h, i in chapter_ids.items()] + [
        (f"member{n}", mid) for n, mid in enumerate(member_ids)]
    replied = ""
    async with db.transaction() as tx:
        for i in range(scale.items):
            handle, actor_id = (CHAPTER, ireland) if i % 4 == 0 else authors[i % len(authors)]
            item = _item(KINDS[i % len(KINDS)], i, now)
            published = now - timedelta(minutes=scale.items - i)
            document = to_ap(item, urls.object(activities.new_id()), urls, handle,
                             _stamp(published))
            create = activities.create(urls, handle, document)
            await item_store.create(tx, actor_id, stored_fields(item), document, create,
                                    at(published))
            if handle == CHAPTER and item.kind == "news":
                replied = document["id"]
        await tx.execute("DELETE FROM fanouts")  # nobody to deliver to in a benchmark

    # Remote objects: replies to one item, minutes from subchapters, notes to chapters.
    rows, audience = [], []
    chapter_list = list(chapter_ids.values())
    for i in range(scale.remote_objects):
        author = followers[i % len(followers)]
        iri = f"https://{urlsplit(author).netloc}/objects/{i}"
        published = now - timedelta(seconds=scale.remote_objects - i)
        via, reply_to, kind, meeting_date = None, None, "Note", None
        document: dict[str, Any] = {"id": iri, "type": "Note", "attributedTo": author,
                                    "content": f"<p>Remote note {i}, with a few words.</p>"}
        if i < scale.replies:
            reply_to = replied
            document["inReplyTo"] = replied
            to = ireland
        elif i < scale.replies + scale.minutes_from_below:
            group = groups[i % len(groups)]
            author, via, kind, meeting_date = group, group, "Article", "2026-01-01"
            document |= {"type": "Article", "attributedTo": group, "name": f"Minutes {i}",
                         "meetingDate": meeting_date, "summary": "What was decided."}
            to = ireland
        else:
            to = ireland if i % 5 == 0 else chapter_list[i % len(chapter_list)]
        rows.append((i + 1, iri, kind, author, document.get("content", ""), reply_to,
                     published, meeting_date, json.dumps(document), utcnow(), via))
        audience.append((i + 1, to))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO remote_objects (id, iri, type, attributed_to, content, in_reply_to,"
            " published, meeting_date, document, received_at, via)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows)
        await tx.executemany(
            "INSERT INTO remote_object_audience (object_id, actor_id) VALUES (?, ?)", audience)
        if db.engine == "postgresql":
            # The ids were given, so the identity's sequence has yet to move past them.
            await tx.fetchvalue("SELECT setval(pg_get_serial_sequence('remote_objects', 'id'),"
                                " (SELECT max(id) FROM remote_objects))")
    # Statistics for the planner, as a node that has grown gradually would have them.
    await db.fetchvalue("PRAGMA optimize" if db.engine == "sqlite" else "ANALYZE")
    uuid = urlsplit(replied).path.rsplit("/", 1)[1]
    return {"item": f"/objects/{uuid}", "member": "/@member0"}


def _created(location: Path | str) -> Database:
    """A new node's database, created with its schema."""
    return Database(location, migrate=True)


def _config(tmp: Path, url: str | None) -> Config:
    raw = tomllib.loads(render_initial("127.0.0.1:1", "http", "Bench"))
    if url is not None:
        raw["storage"]["url"] = url
    return parse(raw, tmp)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def _get(session: ClientSession, url: str, accept: str) -> bytes:
    async with session.get(url, headers={"Accept": accept}) as response:
        body = await response.read()
        assert response.status == 200, (url, response.status, body[:200])
        return body


async def endpoints(session: ClientSession, base: str, paths: dict[str, str]
                    ) -> dict[str, tuple[str, str]]:
    """Name -> (path, Accept). Collection pages are found by following the links a peer
    would follow, so the benchmark runs against any paging scheme."""
    async def first(collection: str) -> dict[str, Any]:
        doc = json.loads(await _get(session, base + collection, AS2))
        return json.loads(await _get(session, base + _path(doc["first"]), AS2))

    followers = f"/actors/{CHAPTER}/followers"
    page = await first(followers)
    middle = _path(json.loads(await _get(session, base + followers, AS2))["first"])
    for _ in range(page["totalItems"] // 20 // 2):  # walk to the middle, as a peer would
        middle = _path(page["next"])
        page = json.loads(await _get(session, base + middle, AS2))
    outbox = json.loads(await _get(session, base + f"/actors/{CHAPTER}/outbox", AS2))
    subchapters = json.loads(await _get(session, base + f"/actors/{CHAPTER}/subchapters", AS2))
    replies = json.loads(await _get(session, base + paths["item"] + "/replies", AS2))
    followers_doc = json.loads(await _get(session, base + followers, AS2))
    return {
        "home": ("/", "text/html"),
        "chapter page": (f"/@{CHAPTER}", "text/html"),
        "member page": (paths["member"], "text/html"),
        "item page, replies": (paths["item"], "text/html"),
        "actor document": (f"/actors/{CHAPTER}", AS2),
        "followers collection": (followers, AS2),
        "followers first page": (_path(followers_doc["first"]), AS2),
        "followers middle page": (middle, AS2),
        "outbox first page": (_path(outbox["first"]), AS2),
        "subchapters first page": (_path(subchapters["first"]), AS2),
        "replies first page": (_path(replies["first"]), AS2),
        "nodeinfo": ("/nodeinfo/2.1", "application/json"),
        "atom feed": (f"/actors/{CHAPTER}/feed.atom", "application/atom+xml"),
        "events .ics": (f"/actors/{CHAPTER}/events.ics", "text/calendar"),
        "webfinger": (f"/.well-known/webfinger?resource=acct:{CHAPTER}@127.0.0.1:1",
                      "application/jrd+json"),
    }


LABELS = ("small", "full", "big")


def shrunk(scale: Scale, divisor: int) -> Scale:
    """The scale with every count divided (at least one of each), for a quick check."""
    return Scale(**{name: max(1, value // divisor) for name, value in vars(scale).items()})


async def main(rounds: int, per_round: int, chosen: list[str], divisor: int = 1) -> None:
    logs.configure("console", "warning")
    big = shrunk(BIG, divisor)
    with tempfile.TemporaryDirectory() as tmp, cluster_for(chosen) as cluster:
        nodes = {}
        for engine in chosen:
            for label, scale in zip(LABELS, (SMALL, FULL, big), strict=True):
                (Path(tmp) / engine / label).mkdir(parents=True)
                config = _config(Path(tmp) / engine / label, storage_url(engine, cluster))
                started = time.perf_counter()
                async with _created(config.database) as db:
                    paths = await build(db, Urls(config.base_url), scale)
                print(f"built the {label} node on {engine} in"
                      f" {time.perf_counter() - started:.1f} s", flush=True)
                runner, port = await serve(create_app(config, deliver=False))
                base = f"http://127.0.0.1:{port}"
                nodes[engine, label] = (runner, base, paths)
        async with ClientSession() as session:
            cases = {key: await endpoints(session, base, paths)
                     for key, (_, base, paths) in nodes.items()}
            samples: dict[tuple[str, str], dict[str, list[float]]] = {
                key: {name: [] for name in cases[key]} for key in nodes}
            for key, (_, base, _) in nodes.items():  # warm up
                for path, accept in cases[key].values():
                    await _get(session, base + path, accept)
            names = list(cases[chosen[0], "small"])
            for _ in range(rounds):
                for name in names:
                    for key, (_, base, _) in nodes.items():
                        path, accept = cases[key][name]
                        for _ in range(per_round):
                            started = time.perf_counter()
                            await _get(session, base + path, accept)
                            samples[key][name].append(time.perf_counter() - started)
        for runner, _, _ in nodes.values():
            await runner.cleanup()

    def median_ms(engine: str, label: str, name: str) -> float:
        return statistics.median(samples[engine, label][name]) * 1000

    print(f"\nmedian ms per request, {rounds} rounds x {per_round}, one request at a time,"
          " every node served by this process")
    for engine in chosen:
        print(f"{engine}:")
        print(f"  {'endpoint':26} {'small':>8} {'full':>8} {'big':>8} {'big/small':>9} "
              f"{'big/full':>8}")
        for name in names:
            small, full, big = (median_ms(engine, label, name) for label in LABELS)
            flag = "" if big / small <= 2 else "  <- over 2x"
            print(f"  {name:26} {small:8.2f} {full:8.2f} {big:8.2f} {big / small:9.2f} "
                  f"{big / full:8.2f}{flag}")
    if len(chosen) == 2:
        print("postgresql / sqlite, same node size:")
        print(f"  {'endpoint':26} {'small':>8} {'full':>8} {'big':>8}")
        for name in names:
            print(f"  {name:26}" + "".join(
                f" {median_ms('postgresql', label, name) / median_ms('sqlite', label, name):8.2f}"
                for label in LABELS))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--divide", type=int, default=1, metavar="N",
                        help="the big node with every count divided by N (a quick check)")
    add_engines_option(parser)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.per_round, args.engines, args.divide))
