"""Local actors as AS2 documents (the `to_ap` side of actors)."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import urlsplit

from federation.text import plain_to_html
from federation.urls import Urls
from federation.vocab import ACTOR_CONTEXT
from storage.actors import ActorRecord
from storage.timestamps import iso

AS_TYPES = {"node": "Application", "chapter": "Group", "member": "Person"}


def image(url: str) -> dict[str, Any]:
    media_type, _ = mimetypes.guess_type(urlsplit(url).path)
    document = {"type": "Image", "url": url}
    if media_type and media_type.startswith("image/"):
        document["mediaType"] = media_type
    return document


def actor_to_ap(
    actor: ActorRecord, urls: Urls, node_username: str, member_of: list[str] | None = None,
    member_count: int | None = None,
) -> dict[str, Any]:
    """The actor document. `member_of`: handles of a member's chapters; `member_count`:
    how many members a chapter has (a count only: who they are is not published here)."""
    handle = actor.handle
    actor_id = urls.actor(handle)
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": actor_id,
        "type": AS_TYPES[actor.kind],
        "preferredUsername": handle if handle is not None else node_username,
        "name": actor.name,
        "url": urls.profile(handle),
        "inbox": urls.inbox(handle),
        "outbox": urls.collection(handle, "outbox"),
        "followers": urls.collection(handle, "followers"),
        "following": urls.collection(handle, "following"),
        "endpoints": {"sharedInbox": urls.shared_inbox()},
        # A chapter's is the day it was founded, which its organisers set (Mastodon shows
        # it as "joined"; other nodes read a chapter's founded date from it).
        "published": iso(actor.founded_at if actor.kind == "chapter" and actor.founded_at
                         else actor.created_at),
        "manuallyApprovesFollowers": actor.manually_approves,
        # The node actor signs fetches; it is not something to follow or list.
        "discoverable": actor.discoverable and actor.kind != "node",
        # Full-text search of posts: chapters publish for the public, members opt in later.
        "indexable": actor.discoverable and actor.kind == "chapter",
        "publicKey": {
            "id": urls.main_key(handle),
            "owner": actor_id,
            "publicKeyPem": actor.rsa_public_pem,
        },
        "assertionMethod": [
            {
                "id": urls.ed25519_key(handle),
                "type": "Multikey",
                "controller": actor_id,
                "publicKeyMultibase": actor.ed25519_multibase,
            }
        ],
    }
    if actor.summary:
        # A member's Markdown, made into sanitised HTML when it was saved.
        document["summary"] = actor.summary_html or plain_to_html(actor.summary)
    if actor.icon_url:
        document["icon"] = image(actor.icon_url)
    if actor.kind == "chapter":
        document["level"] = actor.level
        if actor.location:
            document["location"] = {"type": "Place", "name": actor.location}
        if actor.parent_iri:
            document["parent"] = actor.parent_iri
        if actor.about_html:
            document["about"] = actor.about_html
        document["subchapters"] = urls.collection(handle, "subchapters")
        if member_count is not None:
            # Parent nodes list it on /chapters, as of the chapter's latest Update.
            document["members"] = {"type": "Collection", "totalItems": member_count}
    if actor.kind == "member":
        document["memberOf"] = [urls.actor(h) for h in member_of or []]
    return document
