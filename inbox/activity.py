"""The shape every incoming activity must have before anything else looks at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from federation import strict_json
from federation.urls import http_url

RawObject = dict[str, Any]  # JSON from elsewhere, not validated yet


class BadActivity(ValueError):
    """The body is not an activity we can read; str() is the one-line reason (400)."""


def id_of(value: Any) -> str | None:
    """The id of an object given inline or by reference."""
    return http_url(value.get("id") if isinstance(value, dict) else value)


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def type_of(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if isinstance(k, str)), None)
        return kind if isinstance(kind, str) else None
    return None


class Refused(Exception):
    """An activity we will not take; status and a one-line reason for the sender. Raised
    inside a handler it also rolls the activity's transaction back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class Activity:
    id: str
    type: str
    actor: str
    document: RawObject
    object_id: str | None
    # The object as we trust it: inline from its own origin, or fetched from there.
    object: RawObject | None = field(default=None)
    # GoToSocial sends the votes of a multiple-choice poll as one Create of several Notes.
    objects: list[RawObject] = field(default_factory=list)
    # Signed by someone other than `actor`: only the object (as its origin or its author's
    # proof vouches for it) is trusted, not what the relay wrapped around it.
    relayed: bool = False

    @property
    def raw_object(self) -> Any:
        return self.document.get("object")

    def audience(self) -> list[str]:
        found: list[str] = []
        sources = (self.object or {},) if self.relayed else (self.document, self.object or {})
        for source in sources:
            for key in ("to", "cc", "bto", "bcc", "audience"):
                found.extend(url for url in map(id_of, as_list(source.get(key))) if url)
        return list(dict.fromkeys(found))


def parse(body: bytes) -> Activity:
    try:
        document = strict_json.loads(body)
    except strict_json.BadJson as exc:
        raise BadActivity(f"body refused: {exc}") from None
    if not isinstance(document, dict):
        raise BadActivity("body is not a JSON object")
    activity_id = http_url(document.get("id"))
    if activity_id is None:
        raise BadActivity("activity has no http(s) id")
    kind = type_of(document)
    if kind is None:
        raise BadActivity("activity has no type")
    actor = id_of(document.get("actor"))
    if actor is None:
        raise BadActivity("activity has no actor")
    if origin(activity_id) != origin(actor):
        raise BadActivity("activity id and actor are on different origins")
    return Activity(activity_id, kind, actor, document, id_of(document.get("object")))
