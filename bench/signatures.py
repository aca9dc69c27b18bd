"""What HTTP signatures cost: sign and verify per scheme and key type, and key parsing.

Every case runs once per round, interleaved with the others, so a noisy moment hits all of
them alike; the figure is the median over rounds of the mean time per operation. The bare
`cryptography` sign and verify are measured alongside as the floor the wrappers sit on.

    .venv/bin/python bench/signatures.py [--ops 200] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from federation.signatures import (
    CAVAGE,
    RFC9421,
    PrivateKey,
    SigningKey,
    load_private_key,
    sign_request,
    verify_request,
)

KEY_ID = "https://chapters.example.org/actors/dublin#main-key"
URL = "https://mastodon.example/inbox"
BODY = b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow"}' * 20
NOW = datetime.now(UTC)


def _pem(key: PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def _cases() -> dict[str, tuple[Callable[[], object], int]]:
    """Name -> (one operation, how many of them a round runs relative to --ops)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_pem, ed_pem = _pem(rsa_key), _pem(ed_key)
    data = b"x" * 200  # about the size of a signing string
    rsa_signature = rsa_key.sign(data, PKCS1v15(), SHA256())
    ed_signature = ed_key.sign(data)
    cases: dict[str, tuple[Callable[[], object], int]] = {
        "cryptography: RSA-2048 sign": (
            lambda: rsa_key.sign(data, PKCS1v15(), SHA256()), 1),
        "cryptography: RSA-2048 verify": (
            lambda: rsa_key.public_key().verify(rsa_signature, data, PKCS1v15(), SHA256()), 1),
        "cryptography: Ed25519 sign": (lambda: ed_key.sign(data), 1),
        "cryptography: Ed25519 verify": (
            lambda: ed_key.public_key().verify(ed_signature, data), 1),
    }
    for name, key in (("RSA-2048", rsa_key), ("Ed25519", ed_key)):
        for scheme in (CAVAGE, RFC9421):
            signing_key = SigningKey(KEY_ID, key)
            headers = {"Content-Type": "application/activity+json"}
            headers |= sign_request(scheme, "POST", URL, headers, BODY, signing_key, NOW)
            headers.setdefault("Host", "mastodon.example")
            public_key = key.public_key()

            def sign(s: str = scheme, k: SigningKey = signing_key) -> object:
                return sign_request(s, "POST", URL, {"Content-Type": "x"}, BODY, k, NOW)

            def verify(h: dict[str, str] = headers, p: object = public_key) -> object:
                return verify_request("POST", "/inbox", h, BODY, p, now=NOW)  # type: ignore[arg-type]

            cases[f"{scheme} {name} sign POST"] = (sign, 1)
            cases[f"{scheme} {name} verify POST"] = (verify, 1)
    uncached = load_private_key.__wrapped__  # type: ignore[attr-defined]
    load_private_key(rsa_pem)
    load_private_key(ed_pem)
    cases["load_private_key RSA, uncached"] = (lambda: uncached(rsa_pem), 0)
    cases["load_private_key RSA, cached"] = (lambda: load_private_key(rsa_pem), 1)
    cases["load_private_key Ed25519, uncached"] = (lambda: uncached(ed_pem), 1)
    cases["load_private_key Ed25519, cached"] = (lambda: load_private_key(ed_pem), 1)
    return cases


def main(ops: int, rounds: int) -> None:
    cases = _cases()
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (operation, weight) in cases.items():
            count = ops * weight or max(3, ops // 40)  # uncached RSA parsing is very slow
            started = time.perf_counter()
            for _ in range(count):
                operation()
            results[name].append((time.perf_counter() - started) / count * 1e6)

    print(f"Per operation, median of {rounds} rounds (min-max), {ops} ops a round "
          f"({len(BODY)}-byte body):")
    print(f"  {'case':40} {'median µs':>10} {'min':>9} {'max':>9}")
    for name, values in results.items():
        print(f"  {name:40} {statistics.median(values):10.1f} {min(values):9.1f} "
              f"{max(values):9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    main(args.ops, args.rounds)
