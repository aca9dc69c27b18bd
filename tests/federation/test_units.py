"""Pieces of the wire that need no server: Multikey, WebFinger resources, collections."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation import collections, webfinger
from federation.multikey import (
    base58btc_decode,
    base58btc_encode,
    decode_ed25519,
    encode_ed25519,
)
from federation.text import plain_to_html
from federation.urls import NODE, Urls

URLS = Urls("https://chapters.example.org")
DOMAIN = "chapters.example.org"


def test_base58btc_known_values() -> None:
    # Vectors from draft-msporny-base58: "Hello World!" and leading zero bytes.
    assert base58btc_encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert base58btc_encode(b"\0\0\x28\x7f\xb4\xcd") == "11233QC4"
    assert base58btc_decode("11233QC4") == b"\0\0\x28\x7f\xb4\xcd"


def test_base58btc_from_peers_is_bounded_before_decoding() -> None:
    # Decoding is quadratic: a megabyte-long proofValue or publicKeyMultibase from a peer
    # used to hold the event loop for minutes.
    with pytest.raises(ValueError, match="too long"):
        base58btc_decode("2" * 1_000_000)
    with pytest.raises(ValueError, match="too long"):
        decode_ed25519("z" + "2" * 200)
    assert len(base58btc_decode("z" * 88)) == 65  # a signature's length still decodes


def test_ed25519_multikey_round_trip_and_prefix() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    encoded = encode_ed25519(key)
    assert encoded.startswith("z6Mk")  # every Ed25519 Multikey does (0xed01 prefix)
    assert decode_ed25519(encoded) == key
    with pytest.raises(ValueError):
        decode_ed25519("z" + base58btc_encode(b"\x12\x00" + b"\1" * 32))


@pytest.mark.parametrize("resource,expected", [
    ("acct:dublin@chapters.example.org", "dublin"),
    ("acct:Dublin@Chapters.Example.org", "dublin"),
    ("acct:@dublin@chapters.example.org", "dublin"),
    ("https://chapters.example.org/actors/dublin", "dublin"),
    ("https://chapters.example.org/@dublin", "dublin"),
    ("https://chapters.example.org/actor", NODE),
    ("acct:chapters.example.org@chapters.example.org", NODE),
])
def test_webfinger_resources_we_answer(resource: str, expected: str) -> None:
    assert webfinger.parse_resource(resource, URLS, DOMAIN, "chapters.example.org") == expected


@pytest.mark.parametrize("resource,error", [
    (None, webfinger.BadResource), ("", webfinger.BadResource),
    ("dublin", webfinger.BadResource), ("acct:dublin", webfinger.BadResource),
    ("acct:@chapters.example.org", webfinger.BadResource),
    ("acct:a/b@chapters.example.org", webfinger.BadResource),
    ("acct:dublin@other.example", webfinger.NotHere),
    ("https://other.example/actors/dublin", webfinger.NotHere),
    ("https://chapters.example.org/actors/dublin/outbox", webfinger.NotHere),
])
def test_webfinger_resources_we_refuse(resource: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        webfinger.parse_resource(resource, URLS, DOMAIN, "chapters.example.org")


def test_collection_page_links_carry_the_cursor() -> None:
    assert collections.ordered_collection("https://x/c", 41)["first"] == "https://x/c?page=true"
    page = collections.ordered_collection_page("https://x/c", "https://x/c?cursor=b", 41, ["a"],
                                               next_cursor="c", prev_cursor="a")
    assert page["id"] == "https://x/c?cursor=b" and page["partOf"] == "https://x/c"
    assert page["prev"] == "https://x/c?cursor=a" and page["next"] == "https://x/c?cursor=c"
    assert "last" not in collections.ordered_collection("https://x/c", 41)


def test_plain_text_becomes_escaped_paragraphs() -> None:
    assert plain_to_html("a & b\nc\n\n\nd") == "<p>a &amp; b<br>c</p><p>d</p>"
    assert plain_to_html("") == ""
