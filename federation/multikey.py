"""Multikey encoding of Ed25519 public keys (FEP-521a, W3C Controlled Identifiers).

publicKeyMultibase = "z" + base58btc(0xed 0x01 + 32 raw key bytes).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_PREFIX = b"\xed\x01"
# What we decode are keys (47 characters) and signatures (88); the text comes from peers,
# and decoding is quadratic in its length: a megabyte would hold the event loop for
# minutes.
MAX_BASE58_LENGTH = 128


def base58btc_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 58)
        digits = _ALPHABET[rest] + digits
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + digits


def base58btc_decode(text: str) -> bytes:
    """ValueError for anything but base58btc of at most MAX_BASE58_LENGTH characters."""
    if len(text) > MAX_BASE58_LENGTH:
        raise ValueError(f"base58btc text of {len(text)} characters is too long")
    number = 0
    for char in text:
        index = _ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"{char!r} is not a base58btc digit")
        number = number * 58 + index
    leading_ones = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_ones + body


def encode_ed25519(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "z" + base58btc_encode(_ED25519_PREFIX + raw)


def decode_ed25519(multibase: str) -> Ed25519PublicKey:
    if not multibase.startswith("z"):
        raise ValueError("only base58btc ('z') multibase keys are supported")
    data = base58btc_decode(multibase[1:])
    if len(data) != 34 or not data.startswith(_ED25519_PREFIX):
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(data[2:])
