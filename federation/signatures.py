"""HTTP signatures on requests: draft-cavage (what Mastodon sends and requires) and RFC 9421.

Signing returns the headers to add to a request. Verification takes the request as received and
one public key; the key's type alone chooses the algorithm (RSA: RSASSA-PKCS1-v1_5 with SHA-256,
Ed25519: Ed25519), whatever the request claims. A verifier that lets the request pick the
algorithm can be fooled with an HMAC keyed by the victim's public key, which is public.

Which headers must be signed, and the time window, follow Mastodon's verifier
(federation-profile.md 1.4) so that what passes here would also pass there:

- draft-cavage: `(request-target)`; `date` or `(created)`; `host` on GET; `digest` on POST,
  with a SHA-256 value that matches the body. `(request-target)` is tried with the query string
  and then without it, as Mastodon and GoToSocial do.
- RFC 9421: `@method`; `@target-uri` or `@authority` with `@path`; `content-digest` with a
  matching `sha-256` member on POST; `created` within the window. Only the first signature
  label is considered.

RFC 9421 components are resolved and the signature base built by the http-message-signatures
package; the policy above is checked here, before any public-key operation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, urlsplit

import http_sf  # installed with http-message-signatures, which parses with it too
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)
from http_sf.types import DictionaryType, ItemType

PrivateKey = RSAPrivateKey | Ed25519PrivateKey
PublicKey = RSAPublicKey | Ed25519PublicKey

CAVAGE = "draft-cavage"
RFC9421 = "rfc9421"

RFC9421_LABEL = "sig1"

# Far above any honest signature (an RSA-8192 signature is 1.4 kB of base64, aiohttp caps a
# header line at 8 kB), low enough that parsing an attacker's header stays cheap.
_MAX_SIGNATURE_FIELD = 16_384

# Parsing a PEM costs ~40 ms for RSA. Bounded because remote actors choose how many distinct
# public keys we see; a few thousand covers every peer that is actually talking to us.
_KEY_CACHE_SIZE = 4096


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private_key: PrivateKey


class SignatureError(Exception):
    """Verification failed; str(exc) is a one-line reason for a 401 body and the log."""


@lru_cache(maxsize=_KEY_CACHE_SIZE)
def load_private_key(pem: str) -> PrivateKey:
    """Parse an unencrypted PEM private key (RSA or Ed25519); ValueError if it is not one."""
    key = load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, PrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


@lru_cache(maxsize=_KEY_CACHE_SIZE)
def load_public_key(pem: str) -> PublicKey:
    """Parse a PEM public key (RSA or Ed25519); ValueError if it is not one.

    The PEM usually comes from a remote actor: treat a ValueError like a failed signature.
    """
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except UnsupportedAlgorithm as exc:  # an EC curve OpenSSL lacks; not a ValueError
        raise ValueError(f"unsupported public key: {exc}") from None
    if not isinstance(key, PublicKey):
        raise ValueError(f"unsupported public key type {type(key).__name__}")
    return key


# --- signing -------------------------------------------------------------------------------


def sign_request(
    scheme: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key: SigningKey,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers to ADD to the request (caller merges them).

    draft-cavage: Host, Date, Digest ("SHA-256=<b64>", only with a body) and Signature with
    keyId, algorithm ("rsa-sha256" for RSA keys, "hs2019" for Ed25519) and headers
    "(request-target) host date" plus "digest" and, when `headers` has one, "content-type" with
    a body. (request-target) includes the query string.

    rfc9421: Content-Digest ("sha-256=:<b64>:", only with a body), Signature-Input and
    Signature labelled sig1, covering "@method" "@target-uri" "@authority" (+ "content-digest")
    with created, keyid and alg ("rsa-v1_5-sha256" or "ed25519").

    A naive `now` is taken as UTC. Raises ValueError for an unknown scheme or a URL that cannot
    be signed.
    """
    now = _as_utc(now)
    if scheme == CAVAGE:
        return _sign_cavage(method, url, headers, body, key, now)
    if scheme == RFC9421:
        return _sign_rfc9421(method, url, body, key, now)
    raise ValueError(f"unknown signature scheme {scheme!r}")


def _sign_cavage(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key: SigningKey,
    now: datetime,
) -> dict[str, str]:
    if '"' in key.key_id or "\\" in key.key_id:
        raise ValueError("a keyId cannot contain quotes or backslashes")
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    added = {"Host": _host_of(parts), "Date": format_datetime(now, usegmt=True)}
    covered = {
        "(request-target)": f"{method.lower()} {target}",
        "host": added["Host"],
        "date": added["Date"],
    }
    if body is not None:
        added["Digest"] = "SHA-256=" + _b64(hashlib.sha256(body).digest())
        covered["digest"] = added["Digest"]
        content_type = _fold(headers).get("content-type")
        if content_type is not None:
            covered["content-type"] = content_type
    signing_string = "\n".join(f"{name}: {value}" for name, value in covered.items())
    signature = _b64(_sign_raw(key.private_key, signing_string.encode()))
    algorithm = "rsa-sha256" if isinstance(key.private_key, RSAPrivateKey) else "hs2019"
    added["Signature"] = (
        f'keyId="{key.key_id}",algorithm="{algorithm}",'
        f'headers="{" ".join(covered)}",signature="{signature}"'
    )
    return added


@dataclass
class _Message:
    """The request shape http-message-signatures reads: method, absolute URL, header items."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def _sign_rfc9421(
    method: str, url: str, body: bytes | None, key: SigningKey, now: datetime
) -> dict[str, str]:
    signer = HTTPMessageSigner(
        signature_algorithm=_rfc9421_algorithm(key.private_key),
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key.key_id: key.private_key}),
    )
    # Starts with no headers: nothing the caller set is covered, and the library adds
    # Content-Digest itself (it refuses to overwrite one).
    message = _Message(method.upper(), url)
    try:
        signer.sign(
            message,
            key_id=key.key_id,
            created=now,
            label=RFC9421_LABEL,
            covered_component_ids=("@method", "@target-uri", "@authority"),
            body=body,
        )
    except HTTPMessageSignaturesException as exc:
        raise ValueError(f"cannot sign {url!r}: {exc}") from exc
    return message.headers


# --- verification --------------------------------------------------------------------------


def signature_key_id(headers: Mapping[str, str]) -> tuple[str, str]:
    """(scheme, keyId) of the request's signature without verifying it.

    RFC 9421 when Signature-Input is present (keyid of its first label), else draft-cavage.
    Raises SignatureError if there is no signature or it cannot be parsed.
    """
    fields = _fold(headers)
    if "signature-input" in fields:
        return RFC9421, _parse_rfc9421(fields).key_id
    if "signature" in fields:
        return CAVAGE, _parse_cavage(fields["signature"]).key_id
    raise SignatureError("request is not signed")


def verify_request(
    method: str,
    path_with_query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    public_key: PublicKey,
    *,
    now: datetime | None = None,
    window: timedelta = timedelta(hours=1),
    url_scheme: str | None = None,
) -> str:
    """Verify the request's signature with this key; return the scheme that verified.

    `path_with_query` is the request target as received (aiohttp: `request.raw_path`).
    `url_scheme` is the scheme of the URL the sender used ("https" behind a TLS proxy); it
    only matters for an RFC 9421 signature over @target-uri or @scheme. When None, "https" is
    tried, then "http". Raises SignatureError.
    """
    if not isinstance(public_key, PublicKey):
        raise SignatureError(f"unsupported key type {type(public_key).__name__}")
    fields = _fold(headers)
    now_ts = _as_utc(now).timestamp()
    if "signature-input" in fields:
        schemes = ("https", "http") if url_scheme is None else (url_scheme,)
        _verify_rfc9421(
            method, path_with_query, fields, body, public_key, now_ts, window, schemes
        )
        return RFC9421
    if "signature" in fields:
        _verify_cavage(method, path_with_query, fields, body, public_key, now_ts, window)
        return CAVAGE
    raise SignatureError("request is not signed")


# --- draft-cavage --------------------------------------------------------------------------

# name = "quoted \"string\"" or name = token; the quoted part is written as runs of plain
# characters between escapes, which the regex engine matches far faster than one alternation
# per character.
_CAVAGE_PARAM = re.compile(
    r'[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*'
    r'(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([^\s",]+))[ \t]*'
)
_TIMESTAMP = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_CAVAGE_ALGORITHMS = {
    "RSA": frozenset({"rsa-sha256", "hs2019"}),
    "Ed25519": frozenset({"hs2019", "ed25519"}),
}


@dataclass(frozen=True)
class _CavageSignature:
    key_id: str
    signature: bytes
    algorithm: str | None
    headers: list[str]
    params: dict[str, str]


def _parse_cavage(value: str) -> _CavageSignature:
    if len(value) > _MAX_SIGNATURE_FIELD:
        raise SignatureError("Signature header is too long")
    params: dict[str, str] = {}
    position = 0
    while True:
        match = _CAVAGE_PARAM.match(value, position)
        if match is None:
            raise SignatureError(f"malformed Signature header at character {position}")
        name, quoted, token = match.groups()
        if name in params:
            raise SignatureError(f"duplicate Signature parameter {_quote(name)}")
        if quoted is None:
            params[name] = token
        else:
            params[name] = re.sub(r"\\(.)", r"\1", quoted) if "\\" in quoted else quoted
        position = match.end()
        if position == len(value):
            break
        if value[position] != ",":
            raise SignatureError(f"malformed Signature header at character {position}")
        position += 1
    key_id = params.get("keyId")
    if not key_id:
        raise SignatureError("Signature has no keyId")
    if "signature" not in params:
        raise SignatureError("Signature has no signature parameter")
    # Mastodon and the draft both default to "date" alone, which the rules below then refuse.
    headers = params.get("headers", "date").lower().split()
    if not headers:
        raise SignatureError("Signature covers no headers")
    return _CavageSignature(
        key_id=key_id,
        signature=_b64decode(params["signature"], "signature"),
        algorithm=params.get("algorithm"),
        headers=headers,
        params=params,
    )


def _verify_cavage(
    method: str,
    path_with_query: str,
    fields: dict[str, str],
    body: bytes | None,
    key: PublicKey,
    now_ts: float,
    window: timedelta,
) -> None:
    parsed = _parse_cavage(fields["signature"])
    algorithm = parsed.algorithm.lower() if parsed.algorithm is not None else None
    if algorithm is not None and algorithm not in _CAVAGE_ALGORITHMS[_kind(key)]:
        raise SignatureError(f"algorithm {_quote(algorithm)} does not fit an {_kind(key)} key")

    covered = set(parsed.headers)
    if "(request-target)" not in covered:
        raise SignatureError("Signature must cover (request-target)")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("Signature must cover date or (created)")
    if method.upper() in ("GET", "HEAD") and "host" not in covered:
        raise SignatureError("Signature on a GET must cover host")
    if (method.upper() == "POST" or body) and "digest" not in covered:
        raise SignatureError("Signature on a request with a body must cover digest")
    if covered & {"(created)", "(expires)"} and algorithm == "rsa-sha256":
        raise SignatureError("(created) and (expires) need algorithm hs2019")

    if "date" in covered:
        _check_created(_parse_http_date(fields.get("date")), now_ts, window, "Date")
    if "(created)" in covered:
        _check_created(_parse_timestamp(parsed.params.get("created")), now_ts, window, "created")
    expires_given = "(expires)" in covered or "expires" in parsed.params
    if expires_given and _parse_timestamp(parsed.params.get("expires")) < now_ts:
        raise SignatureError("signature has expired")
    if "digest" in covered:
        _check_digest(fields.get("digest"), body or b"")

    targets = [path_with_query]
    if "?" in path_with_query:
        targets.append(path_with_query.partition("?")[0])
    for target in targets:
        signing_string = _cavage_signing_string(parsed, method, target, fields)
        if _verify_raw(key, parsed.signature, signing_string):
            return
    raise SignatureError("signature does not match")


def _cavage_signing_string(
    parsed: _CavageSignature, method: str, target: str, fields: dict[str, str]
) -> bytes:
    lines = []
    for name in parsed.headers:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in ("(created)", "(expires)"):
            value = parsed.params[name[1:-1]]  # present: checked by _parse_timestamp before
        elif name.startswith("("):
            raise SignatureError(f"unknown pseudo-header {_quote(name)}")
        elif name in fields:
            value = fields[name]
            if "\n" in value or "\r" in value:
                # A line break would let one header forge the next line of the signing string.
                raise SignatureError(f"signed header {_quote(name)} contains a line break")
        else:
            raise SignatureError(f"signed header {_quote(name)} is missing from the request")
        lines.append(f"{name}: {value}")
    try:
        # surrogateescape gives back the bytes of a header aiohttp could not decode as UTF-8.
        return "\n".join(lines).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise SignatureError("signed headers are not valid text") from None


def _check_digest(header: str | None, body: bytes) -> None:
    if header is None:
        raise SignatureError("Digest header is missing")
    expected = hashlib.sha256(body).digest()
    found = False
    for part in header.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise SignatureError("malformed Digest header")
        if name.strip().lower() != "sha-256":
            continue
        found = True
        if not hmac.compare_digest(_b64decode(value.strip(), "Digest"), expected):
            raise SignatureError("Digest does not match the body")
    if not found:
        raise SignatureError("Digest has no SHA-256 value")


def _parse_http_date(value: str | None) -> float:
    if value is None:
        raise SignatureError("Date header is missing")
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise SignatureError("Date header is not an HTTP date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _parse_timestamp(value: str | None) -> float:
    if value is None or not _TIMESTAMP.fullmatch(value):
        raise SignatureError("created/expires must be a Unix timestamp")
    return float(value)


# --- RFC 9421 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rfc9421Signature:
    label: str
    components: list[tuple[Any, dict[str, Any]]]
    params: dict[str, Any]
    signature: bytes

    @property
    def key_id(self) -> str:
        key_id = self.params.get("keyid")
        if not isinstance(key_id, str) or not key_id:
            raise SignatureError("Signature-Input has no keyid string")
        return key_id

    def covers(self, name: str) -> bool:
        return any(value == name and not params for value, params in self.components)


def _reject_duplicate(name: str, context: str) -> None:
    raise SignatureError(f"duplicate {context} {_quote(name)} in a signature header")


def _parse_sf_dictionary(fields: dict[str, str], name: str) -> dict[str, Any]:
    value = fields.get(name)
    if value is None:
        raise SignatureError(f"{name} header is missing")
    if len(value) > _MAX_SIGNATURE_FIELD:
        raise SignatureError(f"{name} header is too long")
    try:
        parsed = http_sf.parse(
            value.encode("ascii"), tltype="dictionary", on_duplicate_key=_reject_duplicate
        )
    except (ValueError, TypeError):  # StructuredFieldError and UnicodeEncodeError are ValueErrors
        raise SignatureError(f"malformed {name} header") from None
    if not isinstance(parsed, dict) or not parsed:
        raise SignatureError(f"{name} header is empty")
    return parsed


def _parse_rfc9421(fields: dict[str, str]) -> _Rfc9421Signature:
    inputs = _parse_sf_dictionary(fields, "signature-input")
    signatures = _parse_sf_dictionary(fields, "signature")
    label = next(iter(inputs))
    member = inputs[label]
    if not isinstance(member, tuple) or not isinstance(member[0], list):
        raise SignatureError(f"Signature-Input {_quote(label)} is not an inner list")
    components, params = member
    if not all(isinstance(item, tuple) and isinstance(item[0], str) for item in components):
        raise SignatureError("Signature-Input components must be strings")
    signature = signatures.get(label)
    if not isinstance(signature, tuple) or not isinstance(signature[0], bytes):
        raise SignatureError(f"Signature has no byte sequence labelled {_quote(label)}")
    return _Rfc9421Signature(label, components, params, signature[0])


def _check_rfc9421_times(params: Mapping[str, Any], now_ts: float, window: timedelta) -> None:
    created = params.get("created")
    if type(created) is not int:  # bool is an int subclass; ?1 is not a time
        raise SignatureError("Signature-Input has no integer created parameter")
    _check_created(created, now_ts, window, "created")
    if "expires" in params:
        expires = params["expires"]
        if type(expires) is not int:
            raise SignatureError("Signature-Input expires is not an integer")
        if expires < now_ts:
            raise SignatureError("signature has expired")


class _PinnedVerifier(HTTPMessageVerifier):
    """The library's verifier with our clock and window instead of its wall clock and 5 s skew.

    The algorithm is fixed by the caller from the key type; the library rejects an `alg`
    parameter that names another.
    """

    def __init__(self, key: PublicKey, key_id: str, now_ts: float, window: timedelta) -> None:
        super().__init__(
            signature_algorithm=_rfc9421_algorithm(key),
            key_resolver=MappingKeyResolver(public_keys={key_id: key}, private_keys={}),
        )
        self._now_ts = now_ts
        self._window = window

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        _check_rfc9421_times(sig_input.params, self._now_ts, self._window)


def _verify_rfc9421(
    method: str,
    path_with_query: str,
    fields: dict[str, str],
    body: bytes | None,
    key: PublicKey,
    now_ts: float,
    window: timedelta,
    schemes: tuple[str, ...],
) -> None:
    parsed = _parse_rfc9421(fields)
    key_id = parsed.key_id
    expected_alg = _rfc9421_algorithm(key).algorithm_id
    alg = parsed.params.get("alg", expected_alg)
    if alg != expected_alg:
        raise SignatureError(f"alg {_quote(str(alg))} does not fit an {_kind(key)} key")
    if not parsed.covers("@method"):
        raise SignatureError('Signature-Input must cover "@method"')
    origin_form = parsed.covers("@authority") and parsed.covers("@path")
    if not (parsed.covers("@target-uri") or origin_form):
        raise SignatureError('Signature-Input must cover "@target-uri" or "@authority" and "@path"')
    needs_digest = method.upper() == "POST" or bool(body)
    if needs_digest:
        digest_covered = any(
            value == "content-digest" and not set(params) - {"sf"}
            for value, params in parsed.components
        )
        if not digest_covered:
            raise SignatureError('Signature-Input must cover "content-digest"')
        digests = _parse_sf_dictionary(fields, "content-digest")
        if not isinstance(digests.get("sha-256"), tuple):
            raise SignatureError("Content-Digest has no sha-256 value")
    _check_rfc9421_times(parsed.params, now_ts, window)

    host = fields.get("host")
    if not host:
        raise SignatureError("Host header is missing")
    if not path_with_query.startswith("/"):
        raise SignatureError("request target must be a path")
    # The library takes the whole dictionary and insists on a tag to pick one of several
    # signatures; hand it only the label chosen above, serialised back as parsed.
    fields = dict(fields)
    # A list of any structured item to http-sf's types; ours holds only (name, params) pairs.
    components: list[ItemType] = list(parsed.components)
    signature_input: DictionaryType = {parsed.label: (components, parsed.params)}
    fields["signature-input"] = http_sf.ser(signature_input)
    fields["signature"] = http_sf.ser({parsed.label: (parsed.signature, {})})
    verifier = _PinnedVerifier(key, key_id, now_ts, window)
    # Only a signature over the scheme can tell https from http; elsewhere a retry is waste.
    if not (parsed.covers("@target-uri") or parsed.covers("@scheme")):
        schemes = schemes[:1]
    reason = "signature does not match"
    for scheme in schemes:
        message = _Message(method.upper(), f"{scheme}://{host}{path_with_query}", fields)
        try:
            verifier.verify(message, max_age=None, body=body or b"")
        except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
            reason = _one_line(str(exc)) or reason
            continue
        return
    raise SignatureError(reason)


def _rfc9421_algorithm(
    key: PrivateKey | PublicKey,
) -> type[algorithms.HTTPSignatureAlgorithm]:
    if isinstance(key, RSAPrivateKey | RSAPublicKey):
        return algorithms.RSA_V1_5_SHA256
    return algorithms.ED25519


# --- shared helpers ------------------------------------------------------------------------


def _fold(headers: Mapping[str, str]) -> dict[str, str]:
    """Header fields by lower-case name; repeated fields joined with ", " in order.

    `items()` yields every field line of a multidict, and every key of a plain dict whatever
    its case, so both end up the same.
    """
    folded: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        value = value.strip(" \t")
        folded[name] = f"{folded[name]}, {value}" if name in folded else value
    return folded


def _sign_raw(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, RSAPrivateKey):
        return key.sign(data, PKCS1v15(), SHA256())
    return key.sign(data)


def _verify_raw(key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key, RSAPublicKey):
            key.verify(signature, data, PKCS1v15(), SHA256())
        else:
            key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _check_created(created: float, now_ts: float, window: timedelta, what: str) -> None:
    if created > now_ts + window.total_seconds():
        raise SignatureError(f"{what} is too far in the future")
    if created < now_ts - window.total_seconds():
        raise SignatureError(f"{what} is too old")


def _host_of(parts: SplitResult) -> str:
    if not parts.hostname:
        raise ValueError(f"URL {parts.geturl()!r} has no host")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if parts.port in (None, default_port) else f"{host}:{parts.port}"


def _as_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not valid base64") from None


def _kind(key: PublicKey) -> str:
    return "RSA" if isinstance(key, RSAPublicKey) else "Ed25519"


def _quote(text: str) -> str:
    """Attacker-chosen text made safe for a one-line reason: escaped, at most 40 characters."""
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
