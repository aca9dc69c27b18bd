"""Object Integrity Proofs (FEP-8b32) with the eddsa-jcs-2022 cryptosuite.

W3C "Data Integrity EdDSA Cryptosuites v1.0" (Recommendation, 2025-05-15), section 3.3:

- transformation: JCS (RFC 8785) of the document without its `proof`;
- proof configuration: JCS of the proof options, i.e. the proof without `proofValue`
  (which carries a copy of the document's `@context` when the document has one);
- hashing: SHA-256(proof configuration) || SHA-256(transformed document), 64 bytes;
- signature: pure Ed25519 over those 64 bytes, 64 bytes long;
- proofValue: multibase base58btc, i.e. "z" + base58btc(signature).

JCS comes from `rfc8785` (Trail of Bits) rather than from code of our own: getting RFC 8785
exactly right means sorting keys by UTF-16 code units (not code points: they differ above
U+FFFF), printing numbers the way ECMAScript's Number.prototype.toString does (1e+21, 1e-7,
no "-0", shortest round-trip digits) and escaping only what RFC 8785 says to. A single byte
of difference from the signer's canonical form makes every proof from that peer fail, the
library is small, pure Python, typed, maintained and tested against the RFC's own examples,
and a hand-rolled copy would be one more thing to get subtly wrong.
"""

from __future__ import annotations

import copy
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from federation.multikey import base58btc_decode, base58btc_encode

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
ASSERTION_METHOD = "assertionMethod"

_SIGNATURE_LENGTH = 64

# xsd:dateTime as the Data Integrity `created` and `expires` use it: a full date and time,
# optional fractional seconds, optional zone. datetime.fromisoformat then checks the ranges.
_XSD_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII
)

# JCS numbers are IEEE 754 doubles (RFC 8785 section 3.2.2.3). Python's json module reads an
# integer literal as an exact int, so an integer past 2**53 - 1 is one that an ECMAScript
# signer read as the nearest double; rfc8785 refuses such ints, and float(int) gives exactly
# that nearest double.
_SAFE_INTEGER = 2**53 - 1


class ProofError(Exception):
    """The proof is missing, malformed, or does not verify; str() is a one-line reason."""


def add_proof(
    document: dict,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime | None = None,
    purpose: str = ASSERTION_METHOD,
) -> dict:
    """A copy of `document` with a `proof` (DataIntegrityProof, cryptosuite eddsa-jcs-2022,
    verificationMethod, proofPurpose, created, proofValue). An existing `proof` is replaced.

    The document's own `@context` is left as it is. The proof gets a copy of it as its
    `@context`, and nothing else, when the document has one (see below).

    `created` defaults to now; it has to be timezone-aware and is written in UTC to the second.
    Raises ValueError for a document that cannot be signed: one that is not a JSON object,
    holds values JCS cannot represent (NaN, infinities, lone surrogates, non-JSON types), or
    already carries a Linked Data signature (FEP-8b32: the integrity proof comes first).
    """
    if not isinstance(document, dict):
        raise ValueError("only a JSON object can carry a proof")
    if not isinstance(verification_method, str) or not verification_method:
        raise ValueError("verification_method must be a non-empty URL")
    if _is_linked_data_signature(document.get("signature")):
        raise ValueError(
            "the document already has a Linked Data signature; add the integrity proof first"
        )
    if created is None:
        created = datetime.now(UTC)
    elif created.tzinfo is None or created.utcoffset() is None:
        raise ValueError("created must be timezone-aware")

    # Deep copies: the signed result must not change when the caller later mutates the
    # document (or its nested objects) they passed in.
    unsecured = {name: copy.deepcopy(value) for name, value in document.items() if name != "proof"}
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": verification_method,
        "proofPurpose": purpose,
    }
    # The proof's @context. The brief asked whether eddsa-jcs-2022 requires
    # "https://w3id.org/security/data-integrity/v2" there when the document has a @context:
    # it does not. Create Proof (eddsa-jcs-2022), step 2: "If unsecuredDocument.@context is
    # present, set proof.@context to unsecuredDocument.@context" -- a copy of the document's
    # own context, which the spec's test vector shows and its note strongly advises (it keeps
    # the proof verifiable when lifted out of the document, as in proof sets and chains).
    # Verifiers then check that the document's @context starts with the proof's. So the proof
    # carries exactly the document's @context when there is one, and none when there is none;
    # we add no context URL anywhere, so peers never need to fetch one (JCS needs no JSON-LD
    # processing at all; the context is only hashed as JSON).
    if "@context" in unsecured:
        proof["@context"] = copy.deepcopy(unsecured["@context"])
    try:
        hash_data = _hash_data(proof, unsecured)
    except ProofError as error:
        raise ValueError(str(error)) from None
    signature = key.sign(hash_data)
    proof["proofValue"] = "z" + base58btc_encode(signature)
    return {**unsecured, "proof": proof}


def verification_method_of(document: dict) -> str:
    """The proof's verificationMethod URL (so the caller can look the key up), or ProofError."""
    method = _proof_of(document).get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise ProofError("proof has no verificationMethod URL")
    return method


def verify_proof(document: dict, public_key: Ed25519PublicKey) -> None:
    """Raise ProofError unless the document carries a valid eddsa-jcs-2022 proof by this key.

    Checks: type DataIntegrityProof, cryptosuite eddsa-jcs-2022, proofPurpose assertionMethod,
    a verificationMethod, `created`/`expires` well formed and the proof not expired, proofValue
    multibase 'z' holding 64 bytes, the proof's @context (if any) equal to the document's, and
    the Ed25519 signature over the hashes. Any change to the document or to the proof (other
    than removing or adding the proof itself) makes it fail, with one exception FEP-8b32
    mandates: a Linked Data signature (`signature` object) added after the proof is ignored.
    """
    proof = _proof_of(document)
    _expect(proof, "type", PROOF_TYPE)
    _expect(proof, "cryptosuite", CRYPTOSUITE)
    _expect(proof, "proofPurpose", ASSERTION_METHOD)
    verification_method_of(document)
    if "created" in proof:
        _parse_datetime(proof["created"], "created")
    if "expires" in proof:
        expires = _parse_datetime(proof["expires"], "expires")
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            raise ProofError("proof has expired")
    signature = _decode_proof_value(proof.get("proofValue"))

    unsecured = {name: value for name, value in document.items() if name != "proof"}
    # FEP-8b32, Backward compatibility: "If both proof and signature are present in a received
    # object, the linked data signature MUST be removed before the verification of the
    # integrity proof" (senders add it after the proof; Fedify, which we test against, does).
    if _is_linked_data_signature(unsecured.get("signature")):
        del unsecured["signature"]
    proof_config = {name: value for name, value in proof.items() if name != "proofValue"}
    # Verify Proof (eddsa-jcs-2022), step 4: when the proof has a @context, the document's
    # @context must start with it, and the document is then hashed with the proof's @context
    # in place of its own. We require the two to be equal instead. A spec-following signer
    # copies the document's @context into the proof verbatim, so equality only turns away
    # documents whose @context was extended after signing -- and those extra, unsigned
    # contexts could redefine what the signed terms mean to a JSON-LD processor.
    if "@context" in proof_config and unsecured.get("@context") != proof_config["@context"]:
        raise ProofError("document @context differs from the proof's @context")
    # Without a proof @context (signers that skip Create Proof step 2), the document is
    # hashed whole, its @context included, as the spec's algorithm does.

    hash_data = _hash_data(proof_config, unsecured)
    try:
        public_key.verify(signature, hash_data)
    except InvalidSignature:
        raise ProofError("signature does not verify") from None


def _proof_of(document: object) -> dict:
    if not isinstance(document, dict):
        raise ProofError("document is not a JSON object")
    if "proof" not in document:
        raise ProofError("document has no proof")
    proof = document["proof"]
    if isinstance(proof, list):
        # Proof sets and chains are allowed by Data Integrity; FEP-8b32 says objects SHOULD NOT
        # carry more than one proof, and we sign with exactly one.
        raise ProofError("proof sets (a list of proofs) are not supported")
    if not isinstance(proof, dict):
        raise ProofError("proof is not a JSON object")
    return proof


def _expect(proof: dict, name: str, wanted: str) -> None:
    value = proof.get(name)
    if value != wanted:
        raise ProofError(f"proof {name} is {_show(value)}, expected {wanted!r}")


def _show(value: object) -> str:
    if value is None:
        return "missing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_datetime(value: object, name: str) -> datetime:
    if not isinstance(value, str) or not _XSD_DATETIME.fullmatch(value):
        raise ProofError(f"proof {name} is not an xsd:dateTime")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ProofError(f"proof {name} is not a valid date and time") from None


def _decode_proof_value(value: object) -> bytes:
    if not isinstance(value, str) or not value:
        raise ProofError("proof has no proofValue")
    if not value.startswith("z"):
        raise ProofError("proofValue is not multibase base58btc ('z')")
    try:
        signature = base58btc_decode(value[1:])
    except ValueError:
        raise ProofError("proofValue is not valid base58btc") from None
    if len(signature) != _SIGNATURE_LENGTH:
        raise ProofError(f"proofValue holds {len(signature)} bytes, not an Ed25519 signature")
    return signature


def _is_linked_data_signature(value: object) -> bool:
    """A Linked Data Signatures 1.0 object, as Mastodon's RsaSignature2017."""
    return isinstance(value, dict) and "signatureValue" in value


def _hash_data(proof_config: dict, unsecured_document: dict) -> bytes:
    """Hashing (eddsa-jcs-2022): the proof configuration's hash first, then the document's."""
    return hashlib.sha256(_jcs(proof_config)).digest() + hashlib.sha256(
        _jcs(unsecured_document)
    ).digest()


def _jcs(value: dict[str, Any]) -> bytes:
    try:
        return rfc8785.dumps(_as_json_numbers(value))
    # CanonicalizationError and UnicodeError are ValueErrors (rfc8785 lets a lone surrogate
    # in a key escape as UnicodeEncodeError); OverflowError is an int too big for a double;
    # RecursionError is nesting too deep to walk.
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise ProofError(f"document cannot be canonicalized (JCS): {error}") from None


def _as_json_numbers(value: Any) -> Any:  # any JSON value; Any is its type in json.loads
    """`value` with every integer outside the IEEE 754 safe range turned into the double that
    a JSON parser would have read (see _SAFE_INTEGER); everything else as it is."""
    if isinstance(value, dict):
        return {name: _as_json_numbers(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_json_numbers(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INTEGER:
        return float(value)
    return value
