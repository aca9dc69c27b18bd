"""Object Integrity Proofs (FEP-8b32, eddsa-jcs-2022): published vectors, tampering, bad input."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation import proofs
from federation.multikey import base58btc_decode, base58btc_encode, decode_ed25519
from federation.proofs import ProofError, add_proof, verification_method_of, verify_proof

# --- W3C Data Integrity EdDSA Cryptosuites v1.0 (REC 2025-05-15), Appendix B.3,
# "Representation: eddsa-jcs-2022": Examples 29 to 39, copied verbatim.

KEY_PAIR = {  # Example 29
    "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    "secretKeyMultibase": "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq",
}
W3C_CREDENTIAL = {  # Example 30: Credential without Proof
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}
W3C_CANONICAL_CREDENTIAL = (  # Example 31
    '{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/'
    'examples/v2"],"credentialSubject":{"alumniOf":"The School of Examples","id":"did:example:'
    'abcdefgh"},"description":"A minimum viable example of an Alumni Credential.","id":"urn:'
    'uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33","issuer":"https://vc.example/issuers/5678","name'
    '":"Alumni Credential","type":["VerifiableCredential","AlumniCredential"],"validFrom":"2023-'
    '01-01T00:00:00Z"}'
)
W3C_CREDENTIAL_HASH = "59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19"  # Ex. 32
W3C_VERIFICATION_METHOD = (
    "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    "#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
)
W3C_PROOF_OPTIONS = {  # Example 33
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "created": "2023-02-24T23:36:38Z",
    "verificationMethod": W3C_VERIFICATION_METHOD,
    "proofPurpose": "assertionMethod",
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
}
W3C_CANONICAL_PROOF_OPTIONS = (  # Example 34
    '{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/'
    'examples/v2"],"created":"2023-02-24T23:36:38Z","cryptosuite":"eddsa-jcs-2022","proofPurpose'
    '":"assertionMethod","type":"DataIntegrityProof","verificationMethod":"did:key:z6MkrJVnaZkeFz'
    'dQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}'
)
W3C_PROOF_OPTIONS_HASH = "66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db"  # 35
W3C_COMBINED_HASHES = (  # Example 36
    "66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db"
    "59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19"
)
W3C_SIGNATURE_HEX = (  # Example 37
    "407cd12654b33d718ecbb99179a1506daaa849450bf3fc523cce3e1c96f8b803"
    "51da3f253d725c6f00b07c9e5448d50b3ef78012b9ab54255116d069c6dd2808"
)
W3C_PROOF_VALUE = (  # Example 38
    "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX"
)
W3C_SIGNED_CREDENTIAL = {  # Example 39
    **W3C_CREDENTIAL,
    "proof": {**W3C_PROOF_OPTIONS, "proofValue": W3C_PROOF_VALUE},
}
CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)


def _secret_key(multibase: str) -> Ed25519PrivateKey:
    """A Multikey secret key: 'z' + base58btc(0x80 0x26 + 32-byte seed)."""
    data = base58btc_decode(multibase.removeprefix("z"))
    assert data[:2] == b"\x80\x26" and len(data) == 34
    return Ed25519PrivateKey.from_private_bytes(data[2:])


W3C_KEY = _secret_key(KEY_PAIR["secretKeyMultibase"])
W3C_PUBLIC = decode_ed25519(KEY_PAIR["publicKeyMultibase"])


def test_w3c_vector_key_pair_matches() -> None:
    assert W3C_KEY.public_key() == W3C_PUBLIC


def test_w3c_vector_canonical_forms_and_hashes() -> None:
    canonical_credential = rfc8785.dumps(W3C_CREDENTIAL)
    assert canonical_credential == W3C_CANONICAL_CREDENTIAL.encode()
    assert hashlib.sha256(canonical_credential).hexdigest() == W3C_CREDENTIAL_HASH
    canonical_options = rfc8785.dumps(W3C_PROOF_OPTIONS)
    assert canonical_options == W3C_CANONICAL_PROOF_OPTIONS.encode()
    assert hashlib.sha256(canonical_options).hexdigest() == W3C_PROOF_OPTIONS_HASH
    # Our hashing step: the proof configuration's hash first, then the document's.
    assert proofs._hash_data(W3C_PROOF_OPTIONS, W3C_CREDENTIAL).hex() == W3C_COMBINED_HASHES


def test_w3c_vector_signature_and_proof_value() -> None:
    signature = W3C_KEY.sign(bytes.fromhex(W3C_COMBINED_HASHES))  # Ed25519 is deterministic
    assert signature.hex() == W3C_SIGNATURE_HEX
    assert "z" + base58btc_encode(signature) == W3C_PROOF_VALUE


def test_w3c_vector_add_proof_reproduces_the_signed_credential() -> None:
    signed = add_proof(W3C_CREDENTIAL, W3C_KEY, W3C_VERIFICATION_METHOD, created=CREATED)
    assert signed == W3C_SIGNED_CREDENTIAL
    # The proof's @context is the document's own, and the document's is left as it was.
    assert signed["@context"] == W3C_CREDENTIAL["@context"]


def test_w3c_vector_verifies() -> None:
    verify_proof(copy.deepcopy(W3C_SIGNED_CREDENTIAL), W3C_PUBLIC)
    assert verification_method_of(W3C_SIGNED_CREDENTIAL) == W3C_VERIFICATION_METHOD


# --- FEP-8b32, fep-8b32.feature: "Signing document" and "Verifying a signature", verbatim.
# Same secret key as the W3C vector; the document has floats, so this checks JCS numbers too.

FEP_DOCUMENT = {
    "@context": [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/data-integrity/v2",
    ],
    "id": "https://server.example/activities/1",
    "type": "Create",
    "actor": "https://server.example/users/alice",
    "object": {
        "id": "https://server.example/objects/1",
        "type": "Note",
        "attributedTo": "https://server.example/users/alice",
        "content": "Hello world",
        "location": {"type": "Place", "longitude": -71.184902, "latitude": 25.273962},
    },
}
FEP_SIGNED = {
    **FEP_DOCUMENT,
    "proof": {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/data-integrity/v2",
        ],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": "https://server.example/users/alice#ed25519-key",
        "proofPurpose": "assertionMethod",
        "proofValue": "z42ffGu6AUKPCFcFPiabmUvnGLPJzC7e4DGWC52NUasSSH37UMa9c58tdgVszUcZfytxa4f"
        "Q5TYHaJENCxUDe9SdL",
        "created": "2023-02-24T23:36:38Z",
    },
}
FEP_ACTOR_KEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"  # the actor's assertionMethod


def test_fep_8b32_vector_signing() -> None:
    signed = add_proof(
        FEP_DOCUMENT, W3C_KEY, "https://server.example/users/alice#ed25519-key", created=CREATED
    )
    assert signed == FEP_SIGNED


def test_fep_8b32_vector_verifying() -> None:
    # As a peer would send it: JSON text, parsed by us.
    received = json.loads(json.dumps(FEP_SIGNED, indent=2))
    assert verification_method_of(received) == "https://server.example/users/alice#ed25519-key"
    verify_proof(received, decode_ed25519(FEP_ACTOR_KEY))


# --- Round trips.

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()
METHOD = "https://chapters.example.org/actors/dublin#ed25519-key"
NOTE = {
    "@context": [
        "https://www.w3.org/ns/activitystreams",
        {"chapterhouse": "https://chapters.example.org/ns#", "level": "chapterhouse:level"},
    ],
    "id": "https://chapters.example.org/items/1",
    "type": "Note",
    "attributedTo": "https://chapters.example.org/actors/dublin",
    "content": "<p>Bookfair on Saturday — all welcome ☕ 😀</p>",
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "level": "local",
    "tag": [{"type": "Hashtag", "name": "#bookfair"}],
    "votersCount": 3,
    "ratio": 0.5,
    "sensitive": False,
    "summary": None,
}


def test_round_trip() -> None:
    signed = add_proof(NOTE, KEY, METHOD)
    verify_proof(signed, PUBLIC)
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["verificationMethod"] == METHOD
    assert proof["@context"] == NOTE["@context"]
    assert proof["proofValue"].startswith("z")
    created = datetime.fromisoformat(proof["created"])
    assert proof["created"].endswith("Z")
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)
    assert {name: value for name, value in signed.items() if name != "proof"} == NOTE


def test_round_trip_through_json_text_in_another_shape() -> None:
    """Key order, whitespace, escapes and number spelling are not what is signed."""
    signed = add_proof(NOTE, KEY, METHOD)
    text = json.dumps(dict(reversed(list(signed.items()))), indent=4, ensure_ascii=True)
    text = text.replace('"votersCount": 3', '"votersCount": 3.0').replace("0.5", "5e-1")
    assert "3.0" in text and "5e-1" in text
    verify_proof(json.loads(text), PUBLIC)


def test_document_without_context_gets_a_proof_without_context() -> None:
    plain = {"type": "Note", "content": "hi"}
    signed = add_proof(plain, KEY, METHOD)
    assert "@context" not in signed and "@context" not in signed["proof"]
    verify_proof(signed, PUBLIC)


def test_existing_proof_is_replaced() -> None:
    other = Ed25519PrivateKey.generate()
    once = add_proof(NOTE, other, "https://elsewhere.example/key")
    twice = add_proof(once, KEY, METHOD)
    assert twice["proof"]["verificationMethod"] == METHOD
    verify_proof(twice, PUBLIC)
    with pytest.raises(ProofError):
        verify_proof(twice, other.public_key())


def test_add_proof_copies() -> None:
    document = copy.deepcopy(NOTE)
    signed = add_proof(document, KEY, METHOD)
    assert "proof" not in document and document == NOTE
    document["tag"][0]["name"] = "#changed"  # the caller's later edits do not reach the copy
    document["@context"].append("https://example.org/extra")
    verify_proof(signed, PUBLIC)


def test_created_is_given_in_utc_to_the_second() -> None:
    dublin_summer = timezone(timedelta(hours=1))
    created = datetime(2024, 6, 1, 13, 30, 15, 999999, tzinfo=dublin_summer)
    signed = add_proof(NOTE, KEY, METHOD, created=created)
    assert signed["proof"]["created"] == "2024-06-01T12:30:15Z"
    verify_proof(signed, PUBLIC)
    with pytest.raises(ValueError):
        add_proof(NOTE, KEY, METHOD, created=datetime(2024, 6, 1, 12, 0))  # naive


def test_other_purposes_are_signed_but_not_accepted() -> None:
    signed = add_proof(NOTE, KEY, METHOD, purpose="authentication")
    assert signed["proof"]["proofPurpose"] == "authentication"
    with pytest.raises(ProofError, match="proofPurpose"):
        verify_proof(signed, PUBLIC)


def test_add_proof_refuses_what_it_cannot_sign() -> None:
    for document in ([NOTE], "note", {"n": float("nan")}, {"n": float("inf")}, {"s": "\ud800"},
                     {"when": datetime.now(UTC)}, {1: "non-string key"}):
        with pytest.raises(ValueError):
            add_proof(document, KEY, METHOD)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        add_proof(NOTE, KEY, "")
    with pytest.raises(ValueError, match="Linked Data signature"):
        add_proof({**NOTE, "signature": {"type": "RsaSignature2017", "signatureValue": "x"}},
                  KEY, METHOD)


# --- Tampering: any change to what was signed fails.

SIGNED = add_proof(NOTE, KEY, METHOD, created=CREATED)


def _flip_last_character(value: str) -> str:
    return value[:-1] + ("2" if value[-1] != "2" else "3")


TAMPERINGS: dict[str, Callable[[dict], None]] = {
    "content": lambda d: d.update(content=d["content"] + " "),
    "id": lambda d: d.update(id="https://chapters.example.org/items/2"),
    "nested value": lambda d: d["tag"][0].update(name="#Bookfair"),
    "integer": lambda d: d.update(votersCount=4),
    "float": lambda d: d.update(ratio=0.5000000000000001),
    "boolean": lambda d: d.update(sensitive=True),
    "null to missing": lambda d: d.pop("summary"),
    "added field": lambda d: d.update(cc=["https://chapters.example.org/followers"]),
    "removed field": lambda d: d.pop("to"),
    "list order": lambda d: d.update(to=[*d["to"], "https://x.example/a"][::-1]),
    "unicode normalisation": lambda d: d.update(content=d["content"].replace("—", "-")),
    "@context extended": lambda d: d["@context"].append("https://example.org/evil"),
    "@context in both": lambda d: (d["@context"].pop(), d["proof"]["@context"].pop()),
    "@context removed": lambda d: d.pop("@context"),
    "proof @context removed": lambda d: d["proof"].pop("@context"),
    "created": lambda d: d["proof"].update(created="2023-02-24T23:36:39Z"),
    "verificationMethod": lambda d: d["proof"].update(verificationMethod=METHOD + "2"),
    "proof field added": lambda d: d["proof"].update(nonce="abc"),
    "proofValue": lambda d: d["proof"].update(proofValue=_flip_last_character(
        d["proof"]["proofValue"])),
    "proofValue of another document": lambda d: d["proof"].update(
        proofValue=add_proof({**NOTE, "content": "x"}, KEY, METHOD, created=CREATED)["proof"][
            "proofValue"]),
    "cryptosuite": lambda d: d["proof"].update(cryptosuite="eddsa-rdfc-2022"),
    "proofPurpose": lambda d: d["proof"].update(proofPurpose="authentication"),
    "type": lambda d: d["proof"].update(type="Ed25519Signature2020"),
    "non-LD signature field": lambda d: d.update(signature="abc"),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_fails(tamper: Callable[[dict], None]) -> None:
    document = copy.deepcopy(SIGNED)
    verify_proof(document, PUBLIC)
    tamper(document)
    with pytest.raises(ProofError):
        verify_proof(document, PUBLIC)


def test_wrong_key_fails() -> None:
    with pytest.raises(ProofError, match="signature does not verify"):
        verify_proof(SIGNED, Ed25519PrivateKey.generate().public_key())


def test_proof_signed_before_a_linked_data_signature_still_verifies() -> None:
    """FEP-8b32: a Linked Data signature added after the proof is removed before verifying."""
    document = copy.deepcopy(SIGNED)
    document["signature"] = {
        "type": "RsaSignature2017",
        "creator": "https://chapters.example.org/actors/dublin#main-key",
        "created": "2023-02-24T23:36:40Z",
        "signatureValue": "c2lnbmF0dXJl",
    }
    verify_proof(document, PUBLIC)


def test_reordered_keys_and_copied_proof_still_verify() -> None:
    document = json.loads(json.dumps(SIGNED, sort_keys=True))
    verify_proof(document, PUBLIC)


# --- Malformed input: always ProofError, never anything else.

def _without(name: str) -> dict:
    document = copy.deepcopy(SIGNED)
    del document["proof"][name]
    return document


def _with_proof(**fields: object) -> dict:
    document = copy.deepcopy(SIGNED)
    document["proof"].update(fields)
    return document


_SIGNATURE = base58btc_decode(SIGNED["proof"]["proofValue"][1:])
_PAST = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
MALFORMED: dict[str, object] = {
    "document is a list": [SIGNED],
    "document is a string": json.dumps(SIGNED),
    "document is None": None,
    "no proof": NOTE,
    "proof is a list": {**NOTE, "proof": [SIGNED["proof"]]},
    "proof is an empty list": {**NOTE, "proof": []},
    "proof is a string": {**NOTE, "proof": SIGNED["proof"]["proofValue"]},
    "proof is null": {**NOTE, "proof": None},
    "proof is empty": {**NOTE, "proof": {}},
    "no type": _without("type"),
    "no cryptosuite": _without("cryptosuite"),
    "no proofPurpose": _without("proofPurpose"),
    "no verificationMethod": _without("verificationMethod"),
    "no proofValue": _without("proofValue"),
    "verificationMethod not a string": _with_proof(verificationMethod={"id": METHOD}),
    "proofValue not a string": _with_proof(proofValue=list(_SIGNATURE)),
    "proofValue empty": _with_proof(proofValue=""),
    "proofValue just z": _with_proof(proofValue="z"),
    "proofValue base64url 'u'": _with_proof(proofValue="u" + SIGNED["proof"]["proofValue"][1:]),
    "proofValue base58btc without prefix": _with_proof(
        proofValue=SIGNED["proof"]["proofValue"][1:]),
    "proofValue uppercase Z": _with_proof(proofValue="Z" + SIGNED["proof"]["proofValue"][1:]),
    "proofValue not base58": _with_proof(proofValue="z0OIl" + SIGNED["proof"]["proofValue"][5:]),
    "proofValue too short": _with_proof(proofValue="z" + base58btc_encode(_SIGNATURE[:63])),
    "proofValue too long": _with_proof(proofValue="z" + base58btc_encode(_SIGNATURE + b"\0")),
    "proofValue leading zero byte": _with_proof(
        proofValue="z" + base58btc_encode(b"\0" + _SIGNATURE)),
    "type is a list": _with_proof(type=["DataIntegrityProof"]),
    "cryptosuite is a dict": _with_proof(cryptosuite={"id": "eddsa-jcs-2022"}),
    "created not a date": _with_proof(created="yesterday"),
    "created a date only": _with_proof(created="2023-02-24"),
    "created out of range": _with_proof(created="2023-02-30T23:36:38Z"),
    "created a number": _with_proof(created=1677281798),
    "expires in the past": _with_proof(expires=_PAST),
    "expires not a date": _with_proof(expires="never"),
    "document with NaN": {**SIGNED, "ratio": float("nan")},
    "document with infinity": {**SIGNED, "ratio": float("-inf")},
    "document with a lone surrogate": {**SIGNED, "content": "\udc00"},
    "key that is a lone surrogate": {**SIGNED, "\ud800": 1},
    "document with a number past a double": {**SIGNED, "votersCount": 10**400},
    "document with a non-string key": {**SIGNED, 7: "seven"},
    "document with a non-JSON value": {**SIGNED, "published": CREATED},
    "proof with a non-JSON value": _with_proof(created=CREATED),
    "proof with a set": _with_proof(nonce={"a"}),
}


@pytest.mark.parametrize("document", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_is_a_proof_error(document: object) -> None:
    with pytest.raises(ProofError) as raised:
        verify_proof(document, PUBLIC)  # type: ignore[arg-type]
    reason = str(raised.value)
    assert reason and "\n" not in reason


@pytest.mark.parametrize("document", [
    None, [], "x", {}, {"proof": []}, {"proof": "x"}, {"proof": {}},
    {"proof": {"verificationMethod": ""}}, {"proof": {"verificationMethod": 7}},
], ids=repr)
def test_verification_method_of_malformed(document: object) -> None:
    with pytest.raises(ProofError):
        verification_method_of(document)  # type: ignore[arg-type]


def _signed_with_expiry(expires: datetime) -> dict:
    """NOTE signed by hand through the same hashing, with an `expires` proof option."""
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2023-02-24T23:36:38Z",
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": METHOD,
        "proofPurpose": "assertionMethod",
        "@context": NOTE["@context"],
    }
    signature = KEY.sign(proofs._hash_data(proof, NOTE))
    return {**NOTE, "proof": {**proof, "proofValue": "z" + base58btc_encode(signature)}}


def test_expires_is_honoured() -> None:
    verify_proof(_signed_with_expiry(datetime.now(UTC) + timedelta(days=1)), PUBLIC)
    with pytest.raises(ProofError, match="expired"):
        verify_proof(_signed_with_expiry(datetime.now(UTC) - timedelta(seconds=1)), PUBLIC)


# --- JCS corner cases, through the library and through signing.

def test_jcs_sorts_keys_by_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3's example keys. U+1F602 is the UTF-16 pair D83D DE02, so it sorts
    # before U+FB33 even though its code point is greater.
    document = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f602": "Smiley",
        "\u0080": "Control\u007f",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control\u007f",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f602":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert proofs._jcs(document) == expected.encode("utf-8")
    assert sorted(document) != sorted(document, key=lambda k: k.encode("utf-16-be"))


def test_jcs_rfc8785_values_example() -> None:
    # RFC 8785 section 3.2.2's parsed example and its canonical form.
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert proofs._jcs(json.loads(text)) == expected.encode("utf-8")


@pytest.mark.parametrize("number,expected", [
    (1e21, "1e+21"),
    (1e20, "100000000000000000000"),
    (999999999999999868928.0, "999999999999999900000"),  # the double just below 1e21
    (-0.0, "0"),
    (0.0, "0"),
    (1e-7, "1e-7"),
    (0.000001, "0.000001"),
    (-1.5, "-1.5"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (9007199254740991, "9007199254740991"),
    (-9007199254740991, "-9007199254740991"),
    # Past 2**53 - 1 an integer literal is read by an ECMAScript signer as the nearest double:
    (9007199254740993, "9007199254740992"),
    (10**21, "1e+21"),
    (-(10**21), "-1e+21"),
])
def test_jcs_numbers_are_ecmascript_numbers(number: float, expected: str) -> None:
    assert proofs._jcs([number]) == f"[{expected}]".encode()


def test_jcs_minimal_string_escaping() -> None:
    value = "\u0000\u001f\b\t\n\f\r\"\\/<>&'\u007f\u2028\u00e9\U0001f600"
    expected = '"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\/<>&\'\u007f\u2028\u00e9\U0001f600"'
    assert proofs._jcs(value) == expected.encode("utf-8")


def test_numbers_equal_as_doubles_verify_alike() -> None:
    """A peer's 1000000000000000000000 (a Python int) and 1e21 (a float) are one JCS number."""
    signed = add_proof({"type": "Note", "big": 1e21, "zero": -0.0, "tiny": 1e-7}, KEY, METHOD)
    text = json.dumps(signed)
    assert '"big": 1e+21' in text
    text = text.replace('"big": 1e+21', '"big": 1000000000000000000000')
    text = text.replace('"zero": -0.0', '"zero": 0').replace('"tiny": 1e-07', '"tiny": 0.0000001')
    received = json.loads(text)
    assert received["big"] == 10**21 and isinstance(received["big"], int)
    verify_proof(received, PUBLIC)


def test_unicode_keys_and_values_round_trip() -> None:
    document = {"type": "Note", "\U0001f602": "😂", "\ufb33": "דּ", "é": "e\u0301", "": "empty"}
    signed = add_proof(document, KEY, METHOD)
    verify_proof(json.loads(json.dumps(signed, ensure_ascii=True)), PUBLIC)
    verify_proof(json.loads(json.dumps(signed, ensure_ascii=False)), PUBLIC)
    changed = copy.deepcopy(signed)
    changed["é"] = "\u00e9"  # NFC of the same text is different data to JCS
    with pytest.raises(ProofError):
        verify_proof(changed, PUBLIC)
