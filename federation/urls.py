"""Every URL this node mints, in one place, so ids never drift from the routes serving them."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

NODE = "node"  # what `parse_actor_url` returns for the node's own actor

# What Mastodon and most browsers still handle; ids longer than this are not worth a row.
MAX_URL_LENGTH = 2048
# Control characters, whitespace and lone surrogates (from headers aiohttp could not
# decode) have no place in a URL and break the log, SQLite or the next request.
_NOT_IN_URLS = re.compile(r"[\x00-\x20\x7f-\x9f\ud800-\udfff]")


def http_url(value: object) -> str | None:
    """`value` if it is an http(s) URL from elsewhere that we can store, compare and fetch,
    else None.

    Many strings pass urlsplit and fail later: `http://[::1` raises ValueError there,
    `http://h:99999/` only on `.port`, so both are asked here, once, for every URL a peer
    hands us. Host names that IDNA cannot encode are left to the HTTP client.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return None
    if _NOT_IN_URLS.search(value):
        return None
    try:
        parts = urlsplit(value)
        _ = parts.port  # ValueError for a port out of range or not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host_port = parts.netloc.rpartition("@")[2]
    if host_port.startswith("["):
        # urlsplit takes "[::1]junk" and "[not an address]"; yarl and sockets do not.
        address, closed, rest = host_port[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            return None
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return None
    return value


def origin_of(url: object) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an http(s) URL from elsewhere, or None for anything else."""
    if http_url(url) is None:
        return None
    parts = urlsplit(str(url))
    return parts.scheme, parts.netloc.lower()


class Urls:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def node_actor(self) -> str:
        return f"{self.base}/actor"

    def actor(self, handle: str | None) -> str:
        """The id of a chapter or member, or of the node actor when handle is None."""
        return self.node_actor() if handle is None else f"{self.base}/actors/{handle}"

    def profile(self, handle: str | None) -> str:
        return f"{self.base}/" if handle is None else f"{self.base}/@{handle}"

    def inbox(self, handle: str | None) -> str:
        return f"{self.actor(handle)}/inbox"

    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    def collection(self, handle: str | None, name: str, page: int | None = None) -> str:
        url = f"{self.actor(handle)}/{name}"
        return url if page is None else f"{url}?page={page}"

    def main_key(self, handle: str | None) -> str:
        return f"{self.actor(handle)}#main-key"

    def ed25519_key(self, handle: str | None) -> str:
        return f"{self.actor(handle)}#ed25519-key"

    def object(self, uuid: str) -> str:
        return f"{self.base}/objects/{uuid}"

    def activity(self, uuid: str) -> str:
        return f"{self.base}/activities/{uuid}"

    def is_local(self, url: str) -> bool:
        parts, base = urlsplit(url), urlsplit(self.base)
        return (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc)

    def nodeinfo(self) -> str:
        return f"{self.base}/nodeinfo/2.1"

    def webfinger_template(self) -> str:
        return f"{self.base}/.well-known/webfinger?resource={{uri}}"

    def parse_actor_url(self, url: str) -> str | None:
        """The handle (or NODE) that a URL of this node names, else None.

        Accepts the actor id and the profile URL, ignoring a fragment or trailing slash.
        """
        parts = urlsplit(url)
        base = urlsplit(self.base)
        if parts.scheme.lower() not in ("http", "https") or parts.netloc.lower() != base.netloc:
            return None
        path = parts.path.rstrip("/")
        if path == "/actor":
            return NODE
        for prefix in ("/actors/", "/@"):
            if path.startswith(prefix):
                handle = path[len(prefix):]
                if handle and "/" not in handle:
                    return handle
        return None
