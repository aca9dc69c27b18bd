"""Handles: chapter slugs and member usernames, one namespace per node.

A handle becomes the user part of `@handle@domain` and a path segment of the actor id, so it
must survive Mastodon's mention syntax: lower-case letters, digits, '_' and '-', starting
and ending with a letter, digit or '_', at most 30 characters (Mastodon's local limit).
"""

from __future__ import annotations

import re
import unicodedata

from chapterhouse.reasons import Reason, reason

MAX_LENGTH = 30
_HANDLE_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")

# Words that would be confusing as a chapter or member, or collide with our own paths.
RESERVED = frozenset({
    "about", "actor", "actors", "admin", "administrator", "api", "chapter", "chapters",
    "contact", "help", "inbox", "instance", "join", "login", "logout", "me", "member",
    "members", "moderator", "node", "nodeinfo", "outbox", "postmaster", "root", "settings",
    "static", "support", "system", "webmaster", "well-known", "www",
})


class InvalidHandle(ValueError):
    """The handle cannot be used; the message says why."""


def _check(handle: str) -> Reason | None:
    """Why the handle cannot be used, or None."""
    if not handle:
        return reason("handle.empty", "a handle must not be empty")
    if len(handle) > MAX_LENGTH:
        return reason("handle.long", "%(handle)r is longer than %(num)d characters",
                      handle=handle, num=MAX_LENGTH)
    if handle != handle.lower():
        return reason("handle.case", "%(handle)r must be lower case", handle=handle)
    if not _HANDLE_RE.match(handle):
        return reason("handle.characters", "%(handle)r may only contain a-z, 0-9, '_' and "
                      "'-', and must not start or end with '-'", handle=handle)
    if handle in RESERVED:
        return reason("handle.reserved", "%(handle)r is reserved on every node",
                      handle=handle)
    return None


def suggest_handle(text: str) -> str | None:
    """A valid handle made from text such as a chapter's name ("Dublin City" ->
    "dublin-city"), or None when nothing usable is left of it."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:MAX_LENGTH].rstrip("-")
    return slug if _check(slug) is None else None


def validate_handle(handle: str) -> str:
    why = _check(handle)
    if why is None:
        return handle
    suggestion = suggest_handle(handle)
    # Only a suggestion that is itself accepted; "try 'dublin city'" would fail again.
    if suggestion is not None and suggestion != handle:
        why = reason("handle.suggestion", "%(reason)s (try %(suggestion)r)", reason=why,
                     suggestion=suggestion)
    raise InvalidHandle(why)
