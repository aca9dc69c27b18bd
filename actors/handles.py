"""Handles: chapter slugs and member usernames, one namespace per node.

A handle becomes the user part of `@handle@domain` and a path segment of the actor id, so it
must survive Mastodon's mention syntax: lower-case letters, digits, '_' and '-', starting
and ending with a letter, digit or '_', at most 30 characters (Mastodon's local limit).
"""

from __future__ import annotations

import re

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


def validate_handle(handle: str) -> str:
    if not handle:
        raise InvalidHandle("a handle must not be empty")
    if len(handle) > MAX_LENGTH:
        raise InvalidHandle(f"{handle!r} is longer than {MAX_LENGTH} characters")
    if handle != handle.lower():
        raise InvalidHandle(f"{handle!r} must be lower case (try {handle.lower()!r})")
    if not _HANDLE_RE.match(handle):
        raise InvalidHandle(
            f"{handle!r} may only contain a-z, 0-9, '_' and '-', and must not start or end "
            "with '-'"
        )
    if handle in RESERVED:
        raise InvalidHandle(f"{handle!r} is reserved on every node")
    return handle
