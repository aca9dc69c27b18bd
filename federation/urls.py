"""Every URL this node mints, in one place, so ids never drift from the routes serving them."""

from __future__ import annotations

from urllib.parse import urlsplit

NODE = "node"  # what `parse_actor_url` returns for the node's own actor


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
