"""Signing keys of local actors, parsed once and kept (a PEM parse costs tens of ms)."""

from __future__ import annotations

from federation.signatures import SigningKey, load_private_key
from federation.urls import Urls
from storage import actors as store
from storage.database import Database


class LocalKeys:
    def __init__(self, db: Database, urls: Urls) -> None:
        self.db = db
        self.urls = urls
        self._keys: dict[int | None, SigningKey] = {}

    async def signing_key(self, actor_id: int | None) -> SigningKey:
        """The RSA key that signs for a local actor (None: the node's Application actor)."""
        key = self._keys.get(actor_id)
        if key is None:
            found = await store.signing_key(self.db, actor_id)
            if found is None:
                raise LookupError(f"no local actor {actor_id}")
            pem, handle = found
            key = SigningKey(self.urls.main_key(handle), load_private_key(pem))
            self._keys[actor_id] = key
        return key
