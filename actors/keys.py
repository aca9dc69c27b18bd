"""Key pairs for local actors: RSA-2048 for HTTP signatures, Ed25519 for object proofs."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from federation.multikey import encode_ed25519
from storage.actors import NewKey


def generate_actor_keys() -> list[NewKey]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return [
        NewKey(
            algorithm="rsa-2048",
            public_key=rsa_key.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii"),
            private_key=rsa_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            .decode("ascii"),
        ),
        NewKey(
            algorithm="ed25519",
            public_key=encode_ed25519(ed_key.public_key()),
            private_key=ed_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            .decode("ascii"),
        ),
    ]
