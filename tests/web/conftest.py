"""A running node with something of every kind published, for the page and feed tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from federation.urls import Urls
from outbox.content import publish_item
from outbox.items import Item
from storage.database import Database
from tests.nodes import Node

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
AS2 = "application/activity+json"
REMOTE = "https://social.example"
NOTE_REPLIES = 21  # more than one page of a collection


@dataclass
class Site:
    node: Node
    ids: dict[str, str] = field(default_factory=dict)  # name -> object id (its URL)
    dublin_order: list[str] = field(default_factory=list)  # dublin's live items, oldest first

    def path(self, name: str, suffix: str = "") -> str:
        return self.ids[name].removeprefix(self.node.base) + suffix

    def uuid(self, name: str) -> str:
        return self.ids[name].rsplit("/", 1)[1]


# name, author handle, item; in the order they are published.
ITEMS: list[tuple[str, str, Item]] = [
    ("news", "dublin", Item(
        kind="news", title="Bookfair this Saturday",
        body="**Bring** your books.\n\n<script>alert(1)</script>\n\nSee you there.")),
    ("blog", "dublin", Item(kind="blog", title="Why we organise",
                            summary="A short history of the chapter.",
                            body="We started in *2012*.")),
    ("member_blog", "ana", Item(kind="blog", title="Notes from a member",
                                body="My first post.")),
    ("minutes", "dublin", Item(kind="minutes", title="Minutes from August meeting",
                               meeting_date="2026-08-25",
                               body="- Keynes\n- Bookfair planning")),
    ("event", "dublin", Item(
        kind="event", title="Autumn bookfair", summary="Books, zines and tea.",
        starts_at="2030-09-12T14:00", ends_at="2030-09-12T17:30", timezone="Europe/Dublin",
        place_name="Teachers' Club", address="36 Parnell Square", capacity=40,
        body="Tables are **free**.")),
    ("online_event", "dublin", Item(
        kind="event", title="Call with New York", starts_at="2030-01-15T19:00",
        ends_at="2030-01-15T20:00", timezone="America/New_York",
        online_url="https://meet.example/iops")),
    ("past_event", "dublin", Item(
        kind="event", title="Winter social 2020", starts_at="2020-01-10T19:00",
        timezone="Europe/Dublin", place_name="The Cobblestone")),
    ("deleted_event", "dublin", Item(
        kind="event", title="Cancelled march", starts_at="2030-05-01T12:00",
        timezone="Europe/Dublin", place_name="O'Connell Street")),
    ("closed_poll", "dublin", Item(
        kind="poll", title="Meet on Tuesdays?", options=["Yes", "No"],
        closes_at="2030-06-01T18:00:00+00:00")),
    ("poll", "dublin", Item(
        kind="poll", title="Should IOPS start a global party?",
        options=["Yes", "No", "Not yet"], closes_at="2030-12-01T18:00:00+00:00")),
    ("deleted_news", "dublin", Item(kind="news", title="Posted by mistake", body="Oops.")),
]
DELETED = ("deleted_event", "deleted_news")


async def _publish(node: Node, ids: dict[str, str]) -> None:
    """Publish through the same function `chapterhouse post` calls, in one process: fast."""
    urls = Urls(node.base)
    async with Database(node.database) as db:
        for name, handle, item in ITEMS:
            ids[name] = await publish_item(db, urls, handle, item)


def _rows(node: Node, table: str, rows: list[dict[str, object]]) -> None:
    columns = list(rows[0])
    node.sql_many(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [tuple(row[c] for c in columns) for row in rows])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _remote_actor(name: str, display: str) -> dict[str, object]:
    iri = f"{REMOTE}/users/{name}"
    return {"iri": iri, "type": "Person", "host": "social.example", "inbox": f"{iri}/inbox",
            "shared_inbox": f"{REMOTE}/inbox", "username": name, "name": display,
            "document": json.dumps({"id": iri}), "fetched_at": _at("2026-11-01T00:00:00")}


def _reply(n: int, author: str, to: str, content: str, deleted: bool = False
           ) -> dict[str, object]:
    iri = f"{REMOTE}/users/{author}/statuses/{n}"
    return {"iri": iri, "type": "Note", "attributed_to": f"{REMOTE}/users/{author}",
            "content": content, "in_reply_to": to, "published": _at("2026-11-02T10:00:00"),
            "document": json.dumps({"id": iri}), "received_at": _at("2026-11-02T10:00:01"),
            "deleted_at": _at("2026-11-03T00:00:00") if deleted else None}


def item_id(node: Node, iri: str) -> int:
    [(found,)] = node.sql("SELECT id FROM items WHERE object_iri = ?", iri)
    return int(found)


def add_votes(node: Node, poll: str, choices: list[str]) -> None:
    poll_id = item_id(node, poll)
    _rows(node, "poll_votes", [
        {"item_id": poll_id, "voter": f"{REMOTE}/users/voter{n}", "choice": choice,
         "note_iri": f"{poll}#vote-{n}", "created_at": _at("2026-11-02T00:00:00")}
        for n, choice in enumerate(choices)])


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """dublin (a local chapter with one of everything), galway (a chapter with nothing yet),
    ana (a member of dublin who blogs); votes, participants and fediverse replies."""
    node = Node.init(tmp_path_factory.mktemp("site"))
    for args in (
        ("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local",
         "--location", "Dublin, Ireland", "--summary", "Organising and bookfairs in Dublin."),
        ("chapter", "create", "galway", "--name", "IOPS Galway", "--level", "local",
         "--location", "Galway, Ireland"),
        ("member", "add", "ana", "--chapter", "dublin", "--name", "Ana Byrne"),
    ):
        result = node.cli(*args)
        assert result.returncode == 0, result.stderr
    site = Site(node)
    asyncio.run(_publish(node, site.ids))
    note = node.cli("post", "note", "Thanks to everyone who came!", "--chapter", "dublin")
    assert note.returncode == 0, note.stderr
    site.ids["note"] = note.stdout.strip()
    for name in DELETED:
        result = node.cli("delete", site.ids[name])
        assert result.returncode == 0, result.stderr
    site.dublin_order = [site.ids[name] for name, handle, _ in ITEMS
                         if handle == "dublin" and name not in DELETED]

    add_votes(node, site.ids["poll"], ["Yes", "Yes", "No"])
    event = item_id(node, site.ids["event"])
    node.sql("UPDATE items SET closed_at = ? WHERE object_iri = ?",
             _at("2026-11-01T12:00:00"), site.ids["closed_poll"])
    _rows(node, "event_participants", [
        {"item_id": event, "participant": f"{REMOTE}/users/p{n}",
         "join_iri": f"{REMOTE}/joins/{n}", "created_at": _at("2026-11-02T00:00:00")}
        for n in range(2)])
    _rows(node, "remote_actors", [_remote_actor("zoe", "Zoë Quinn"),
                                  _remote_actor("mal", "Mal")])
    _rows(node, "remote_objects", [
        _reply(1, "zoe", site.ids["news"], "<p>Great news, <strong>see you</strong>!</p>"),
        _reply(2, "mal", site.ids["news"], "<p>gone</p>", deleted=True),
        _reply(3, "mal", site.ids["news"], "<script>alert(2)</script><p>Count me in</p>"),
        *(_reply(100 + n, "zoe", site.ids["note"], f"<p>reply {n}</p>")
          for n in range(NOTE_REPLIES)),
    ])
    node.start()
    yield site
    node.stop()
