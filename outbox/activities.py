"""The activities local actors send, as AS2 documents (the `to_ap` side of the outbox)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from federation.languages import maps
from federation.text import plain_to_html
from federation.urls import Urls
from federation.vocab import AS_CONTEXT, PUBLIC
from outbox.items import CONTENT_CONTEXT


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return uuid.uuid4().hex


def note(urls: Urls, handle: str, text: str, language: str | None = None) -> dict[str, Any]:
    """A public Note: to Public, cc the author's followers (Mastodon's "public"); with
    its contentMap keyed by the language it is written in, when that is known."""
    actor_id = urls.actor(handle)
    note_id = urls.object(new_id())
    content = plain_to_html(text)
    document = {
        "@context": CONTENT_CONTEXT,
        "id": note_id,
        "type": "Note",
        "attributedTo": actor_id,
        "content": content,
        "published": now_iso(),
        "url": note_id,
        "to": [PUBLIC],
        "cc": [urls.collection(handle, "followers")],
    }
    return document | maps(language, content=content)


def addressed(document: dict[str, Any]) -> list[str]:
    """The actors and collections a document of ours names in `to` and `cc`."""
    found: list[str] = []
    for key in ("to", "cc"):
        value = document.get(key, [])
        found += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return found


def create(urls: Urls, handle: str, obj: dict[str, Any], kind: str = "Create") -> dict[str, Any]:
    """Create (or Update) wrapping the object, under the object's own context so that the
    terms it uses stay defined."""
    return {
        "@context": obj.get("@context", AS_CONTEXT),
        "id": urls.activity(new_id()),
        "type": kind,
        "actor": urls.actor(handle),
        "published": now_iso() if kind != "Create" else obj.get("published", now_iso()),
        "to": obj.get("to", [PUBLIC]),
        "cc": obj.get("cc", []),
        # Embedded whole: an integrity proof covers the object's own @context too.
        "object": obj if "proof" in obj else {k: v for k, v in obj.items() if k != "@context"},
    }


def delete(urls: Urls, handle: str | None, obj: dict[str, Any]) -> dict[str, Any]:
    """Delete with a Tombstone of the same id, addressed like the original (handle None:
    the node actor's own)."""
    return {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_id()),
        "type": "Delete",
        "actor": urls.actor(handle),
        "published": now_iso(),
        "to": obj.get("to", [PUBLIC]),
        "cc": obj.get("cc", []),
        "object": {"id": obj["id"], "type": "Tombstone", "formerType": obj.get("type", "Note")},
    }


def tombstone(obj: dict[str, Any], deleted: datetime) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": obj["id"],
        "type": "Tombstone",
        "formerType": obj.get("type", "Note"),
        "deleted": deleted.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def answer(
    urls: Urls, handle: str | None, request: dict[str, Any] | str, to: str, accept: bool
) -> dict[str, Any]:
    """Accept or Reject of a Follow or a Join. The request is embedded when we still have
    it, which lets peers match it by its id or by its actor (Mastodon does both)."""
    return {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_id()),
        "type": "Accept" if accept else "Reject",
        "actor": urls.actor(handle),
        "to": [to],
        "object": request,
    }


def follow(urls: Urls, handle: str | None, target: str) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_id()),
        "type": "Follow",
        "actor": urls.actor(handle),
        "to": [target],
        "object": target,
    }


def undo(urls: Urls, handle: str | None, activity: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_id()),
        "type": "Undo",
        "actor": urls.actor(handle),
        "to": activity.get("to", []),
        "object": {k: v for k, v in activity.items() if k != "@context"},
    }


def announce(urls: Urls, handle: str, obj: dict[str, Any], also_cc: list[str]) -> dict[str, Any]:
    """A chapter passing on an object (FEP-1b12: Announce of the object itself, which is
    what Mastodon can show). The object is embedded whole, its own @context and proof
    included, so that a node further on can check the proof without asking its origin."""
    return {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_id()),
        "type": "Announce",
        "actor": urls.actor(handle),
        "published": now_iso(),
        "to": [PUBLIC],
        "cc": [urls.collection(handle, "followers"), *also_cc],
        "object": obj,
    }
