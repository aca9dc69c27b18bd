"""Queries about the rest of the fediverse: remote actors, their keys, and remote hosts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.database import Database, Reader, Row, utcnow
from storage.timestamps import at, parse


@dataclass(frozen=True)
class RemoteKey:
    key_id: str
    algorithm: str  # 'rsa' or 'ed25519'
    public_pem: str


@dataclass(frozen=True)
class RemoteActor:
    id: int
    iri: str
    type: str
    host: str
    inbox: str
    shared_inbox: str | None
    username: str | None
    name: str | None
    fetched_at: datetime


@dataclass(frozen=True)
class HostState:
    host: str
    signature_scheme: str | None
    failures: int
    unavailable_since: datetime | None


async def save_actor(
    db: Database, actor: dict[str, Any], keys: list[RemoteKey], document: dict[str, Any]
) -> RemoteActor:
    """Insert or refresh a remote actor and replace its keys, in one transaction."""
    now = utcnow()
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "INSERT INTO remote_actors"
            " (iri, type, host, inbox, shared_inbox, username, name, document, fetched_at)"
            " VALUES (:iri, :type, :host, :inbox, :shared_inbox, :username, :name, :document, :now)"
            " ON CONFLICT (iri) DO UPDATE SET type = excluded.type, host = excluded.host,"
            " inbox = excluded.inbox, shared_inbox = excluded.shared_inbox,"
            " username = excluded.username, name = excluded.name,"
            " document = excluded.document, fetched_at = excluded.fetched_at"
            " RETURNING id",
            {**actor, "document": json.dumps(document), "now": now},
        )
        # An upsert with RETURNING always answers its one row, inserted or updated.
        assert row is not None
        actor_id = int(row[0])
        await tx.execute("DELETE FROM remote_keys WHERE actor_id = ?", (actor_id,))
        # A key id that moved to another actor follows the newest document that claims it.
        await tx.executemany(
            "INSERT INTO remote_keys (key_id, actor_id, algorithm, public_pem) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key_id) DO UPDATE SET actor_id = excluded.actor_id,"
            " algorithm = excluded.algorithm, public_pem = excluded.public_pem",
            [(k.key_id, actor_id, k.algorithm, k.public_pem) for k in keys],
        )
    return RemoteActor(
        id=actor_id, iri=actor["iri"], type=actor["type"], host=actor["host"],
        inbox=actor["inbox"], shared_inbox=actor["shared_inbox"], username=actor["username"],
        name=actor["name"], fetched_at=now,
    )


_ACTOR_COLUMNS = "id, iri, type, host, inbox, shared_inbox, username, name, fetched_at"


def _actor(row: Row) -> RemoteActor:
    return RemoteActor(
        id=int(row["id"]), iri=row["iri"], type=row["type"], host=row["host"],
        inbox=row["inbox"], shared_inbox=row["shared_inbox"], username=row["username"],
        name=row["name"], fetched_at=at(row["fetched_at"]),
    )


async def actor(db: Reader, iri: str) -> RemoteActor | None:
    row = await db.fetchone(f"SELECT {_ACTOR_COLUMNS} FROM remote_actors WHERE iri = ?", (iri,))
    return None if row is None else _actor(row)


async def inboxes_of(tx: Reader, iris: list[str]) -> list[str]:
    """The inboxes of those of these remote actors we know, in the caller's transaction."""
    if not iris:
        return []
    marks = ", ".join("?" for _ in iris)
    rows = await tx.fetchall(
        f"SELECT inbox FROM remote_actors WHERE iri IN ({marks})", tuple(iris))
    return [str(row[0]) for row in rows]


async def key(db: Reader, key_id: str) -> tuple[RemoteKey, str] | None:
    """A cached key and the iri of the actor that owns it."""
    row = await db.fetchone(
        "SELECT k.key_id, k.algorithm, k.public_pem, a.iri FROM remote_keys k"
        " JOIN remote_actors a ON a.id = k.actor_id WHERE k.key_id = ?",
        (key_id,),
    )
    if row is None:
        return None
    return RemoteKey(row["key_id"], row["algorithm"], row["public_pem"]), row["iri"]


async def host_state(db: Reader, host: str) -> HostState | None:
    row = await db.fetchone(
        "SELECT host, signature_scheme, failures, unavailable_since FROM hosts WHERE host = ?",
        (host,),
    )
    if row is None:
        return None
    return HostState(host=row["host"], signature_scheme=row["signature_scheme"],
                     failures=int(row["failures"]),
                     unavailable_since=parse(row["unavailable_since"]))


async def remember_scheme(db: Database, host: str, scheme: str) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO hosts (host, signature_scheme) VALUES (?, ?)"
            " ON CONFLICT (host) DO UPDATE SET signature_scheme = excluded.signature_scheme",
            (host, scheme),
        )


async def host_answered(db: Database, host: str, now: datetime) -> None:
    """A host proved it is alive (it answered us, or sent us a signed request)."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO hosts (host, last_success_at) VALUES (?, ?)"
            " ON CONFLICT (host) DO UPDATE SET failures = 0, unavailable_since = NULL,"
            " next_probe_at = NULL, last_success_at = excluded.last_success_at",
            (host, now),
        )
