"""Fedify (@fedify/fedify from npm), an independent ActivityPub implementation, reads our
actors: it looks them up by URL and we assert on what it parsed, not on what we sent."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.nodes import Node

PEER = Path(__file__).resolve().parent / "fedify"


def fedify_lookup(*urls: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "Node.js is required for the Fedify peer"
    assert (PEER / "node_modules" / "@fedify" / "fedify").is_dir(), (
        "the Fedify peer is not installed: run `npm ci --prefix tests/peers/fedify` "
        "(`make test` does this)"
    )
    result = subprocess.run([node, str(PEER / "lookup.mjs"), *urls],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def held_keys(node: Node, handle: str | None) -> dict[str, str]:
    where = "a.kind = 'node'" if handle is None else "a.handle = ?"
    return dict(node.sql(
        "SELECT k.algorithm, k.public_key FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
        f" WHERE {where}", *(() if handle is None else (handle,))))


def same_rsa_key(pem_a: str, pem_b: str) -> bool:
    a, b = load_pem_public_key(pem_a.encode()), load_pem_public_key(pem_b.encode())
    return a.public_numbers() == b.public_numbers()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def parsed(node: Node) -> dict[str, dict[str, Any]]:
    urls = [f"{node.base}/actors/dublin", f"{node.base}/actors/ana", f"{node.base}/actor"]
    return {line["url"]: line for line in fedify_lookup(*urls)}


@pytest.mark.parametrize("handle,as_type", [("dublin", "Group"), ("ana", "Person"),
                                            (None, "Application")])
def test_fedify_parses_our_actor_with_its_inbox_and_keys(
    node: Node, parsed: dict[str, dict[str, Any]], handle: str | None, as_type: str
) -> None:
    actor_id = f"{node.base}/actors/{handle}" if handle else f"{node.base}/actor"
    actor = parsed[actor_id]
    assert actor["ok"], actor.get("error")
    assert actor["type"] == as_type
    assert actor["id"] == actor_id
    assert actor["inbox"] == f"{actor_id}/inbox"
    assert actor["sharedInbox"] == f"{node.base}/inbox"
    assert actor["outbox"] == f"{actor_id}/outbox"
    assert actor["followers"] == f"{actor_id}/followers"

    keys = held_keys(node, handle)
    public_key = actor["publicKey"]
    assert public_key["id"] == f"{actor_id}#main-key"
    assert public_key["owner"] == actor_id
    assert public_key["algorithm"]["name"] == "RSASSA-PKCS1-v1_5"
    assert public_key["algorithm"]["modulusLength"] == 2048
    assert same_rsa_key(public_key["pem"], keys["rsa-2048"])

    [multikey] = actor["assertionMethods"]
    assert multikey["id"] == f"{actor_id}#ed25519-key"
    assert multikey["controller"] == actor_id
    assert multikey["algorithm"]["name"] == "Ed25519"
    # Fedify decoded the key and encoded it again: the same bytes we hold.
    assert multikey["publicKeyMultibase"] == keys["ed25519"]

    # Fedify needed no JSON-LD context from us or from anywhere else.
    assert actor["contextsFetched"] == []
    assert actor["warnings"] == []


def test_fedify_reads_the_chapter_profile(node: Node, parsed: dict[str, dict[str, Any]]) -> None:
    chapter = parsed[f"{node.base}/actors/dublin"]
    assert chapter["preferredUsername"] == "dublin"
    assert chapter["name"] == "IOPS Dublin"
    assert "Organising and bookfairs in Dublin." in chapter["summary"]
    assert chapter["objectUrl"] == f"{node.base}/@dublin"
    assert chapter["discoverable"] is True
    assert chapter["manuallyApprovesFollowers"] is False
    served = node.get("/actors/dublin", accept="application/activity+json").json()
    assert chapter["published"] == served["published"]
    assert chapter["location"]["type"] == "Place"
    assert chapter["location"]["name"] == "Dublin, Ireland"


def test_fedify_reads_an_icon(node: Node) -> None:
    [ireland] = fedify_lookup(f"{node.base}/actors/ireland")
    assert ireland["icon"]["type"] == "Image"
    assert ireland["icon"]["url"] == "https://static.example/ireland.png"
    assert ireland["icon"]["mediaType"] == "image/png"


def test_fedify_finds_nothing_where_there_is_no_actor(node: Node) -> None:
    [missing] = fedify_lookup(f"{node.base}/actors/nobody")
    assert missing["ok"] is False
