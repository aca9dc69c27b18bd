"""Object integrity proofs (FEP-8b32, eddsa-jcs-2022) on what local actors publish, so a
node several levels up can check an item without asking the node it came from."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation.proofs import add_proof
from federation.signatures import load_private_key
from federation.urls import Urls
from storage import actors as actor_store
from storage.database import Reader


async def prove(
    db: Reader, urls: Urls, actor_id: int, document: dict[str, Any]
) -> dict[str, Any]:
    """The document with a proof by its author's Ed25519 key (`#ed25519-key`)."""
    found = await actor_store.proof_key(db, actor_id)
    if found is None:
        raise LookupError(f"no Ed25519 key for local actor {actor_id}")
    pem, handle = found
    key = load_private_key(pem)  # parsed once, then cached by PEM
    if not isinstance(key, Ed25519PrivateKey):
        raise LookupError(f"the proof key of local actor {actor_id} is not Ed25519")
    return add_proof(document, key, urls.ed25519_key(handle))
