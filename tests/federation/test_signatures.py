"""HTTP signatures: golden vectors, round trips, interop shapes, and every rule that keeps a
forged or replayed request out.

Requests built "by hand" here compute their signing string or signature base in the test and
sign it with `cryptography` directly, so they do not share code with the module under test.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import random
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from multidict import CIMultiDict, CIMultiDictProxy

from federation.signatures import (
    CAVAGE,
    RFC9421,
    PrivateKey,
    SignatureError,
    SigningKey,
    load_private_key,
    load_public_key,
    sign_request,
    signature_key_id,
    verify_request,
)

# Fixed keys, so that the golden Signature values below stay the same from run to run.
RSA_PEM = """-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCmX78QGptohBHN
QtQ5QgdvSN2SBKxa+sOX8lJHtMJutu0qX/oULtahWUF8CKwkqY236wfGWpNZOWH3
rLdbCpefVQ4BufpJulw6iKBLfNQXCNCNyx4MqbaHU2+hFo51WwAt7HhU6hqLN44R
zSt1H+LJOl1KNJFLKSiox7Wvm2mp5bHUNl0DrFFC24RlYNKjSiBfXnVJ2qRLduvZ
Ub44Ey5cug4DolWlhj233LCcIatIVjV6zmBJ9L3KNEq9OLw9xvOxwmT8+4VEKqtZ
t/kqWxz1QPGWM/0C2WWydIGJOQbLvmtqi92Cctd0EEgh1iYdpHIRQYgGK1dvpCUE
tFI3Sl2HAgMBAAECggEARU2h9Y/Xx7AoCDQ72gQOu8UDAvWuZBGME0nOC2+ZBGxv
m5SyQ+EE594ZwJSOPJFiZsfhC7ekJGkaTYTlNefSI/1WodJ6F2cpTvqlpvw/Dr9N
vJrtEAJL9dAEMnqGag03pGmZ8Gk6GF7Sb8jivt3C5ubIgIYoNcJV3QSfwqA+4hWP
tMoGmKCPxV4QxOYvZNXXXqev0U8r5Nl37N6dacyPvKhd5bM4hLziFSUoeBKOB4IS
BnBiX78UKXRiY3jI1DJqDzyGPFC6vlxJRHMtVXRAkO14hxOawV+4fhi4BRaFlSbO
SBo9oFm1x9WihnzyfABNxCfOH08ahrj0PAdex3b+PQKBgQDVuLSYZlKiaxBCB23s
fNq/Bkb6Z2SPkjhZTQuxOKIp5CGOKxko+zbfOlpIqn/iKrGi1QIRERQume3AtsfP
ZFMh0sjzGsUaGtSBdu+KF5vkcAM5Poie0gUQ4jE0OKk7/ObLauEMF12ldgNA/qyU
dLISZjy8kPqegtqnBWfus60J6wKBgQDHSURJKLBEGsr0BMUEXTdL40I6OO0d1Wf+
q+1H9Gi8oNfBKfbDGoRYFJxhaj1uh2fW4ykMs7G5djxUHZB2pY4mOXrspnIWOp1A
wVpSMbEX7DgmecFXRTdbyZHx60jjPBE7OreIH4ocu7csgWDD1aRI+srIflExgIF2
3HXL9QcX1QKBgCS1wkd/I+iEDVnaHtaFJ6myMVTnl41Vp1oncr+xI6GgbucVng+8
/tLfGgzrRGYbwUFf5yf5UAclJ4J3ouCLsf/YTe38BikSvLe0LzcAESXu247kn+Dv
4DDjOWJn7SHBsf70z80c4lf+alaqqAgj90ZTy1D0cifyAA66TfzhXfKbAoGAeB5T
SH178TDtD7QoRH8jK1ypuIpDce4Fpt1eQjaxQrD4Gvf+Qo8jIiwaLiVpLcvz7PQy
8/MDtrPrnQ/M2ZbkXWncC/QvY/KkgjmJBW3qPm8lURumS8HuoiaXD2gwILc986Nq
qGPKTZNfzzWUa7XENjDkNYDd06aPYmNzpSHlypkCgYAEO1YeHxFsrVgXOEl1Wmcr
PdJnlMJRXKhIawwVs3L0KzgiLgZtpOY7DOLhf4GvqO4/fgFeGHf0SiIYtK3f/tnr
OfH4RZ29xLrHQWVsL+cl4qPpjPaKxTP54awkvnMqD89pJaQMIj37+Mk5rcpHuh17
f6Twvc/DzspGJrmPNDweZQ==
-----END PRIVATE KEY-----
"""
ED25519_PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINefWeGIQVJuWtwVqe9Ba9hb4wFzHzr82ou5udGoMgxP
-----END PRIVATE KEY-----
"""

# The RSA test key of draft-cavage-http-signatures-12, appendix C, and its test vectors.
DRAFT_PEM = """-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
"""
DRAFT_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)
DRAFT_BODY = b'{"hello": "world"}'
DRAFT_C2 = (
    'keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",'
    'signature="qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7n'
    "dmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr"
    '2Os0="'
)
DRAFT_ALL_HEADERS = (
    'keyId="Test",algorithm="rsa-sha256",'
    'headers="(request-target) host date content-type digest content-length",'
    'signature="vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bE'
    "KBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7"
    's1dE="'
)

# The Ed25519 test key of RFC 9421 appendix B.1.4 and the signature of example B.2.6.
RFC_ED25519_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
RFC_B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
RFC_B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpB"
    "KRCw==:"
)

RSA_KEY = load_private_key(RSA_PEM)
ED_KEY = load_private_key(ED25519_PEM)
KEY_ID = "https://chapters.example.org/actors/dublin#main-key"
NOW = datetime(2026, 7, 14, 18, 3, 11, tzinfo=UTC)
HTTP_NOW = "Tue, 14 Jul 2026 18:03:11 GMT"
CREATED = 1784052191  # NOW as a Unix time
AS2 = "application/activity+json"
BODY = b'{"type":"Follow","actor":"https://mastodon.example/users/alice"}'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha256_digest(body: bytes) -> str:
    return "SHA-256=" + b64(hashlib.sha256(body).digest())


def content_digest(body: bytes) -> str:
    return f"sha-256=:{b64(hashlib.sha256(body).digest())}:"


def rsa_sign(data: bytes) -> bytes:
    assert isinstance(RSA_KEY, RSAPrivateKey)
    return RSA_KEY.sign(data, PKCS1v15(), SHA256())


def ed_sign(data: bytes) -> bytes:
    return ED_KEY.sign(data)


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def signature_param(header: str) -> bytes:
    match = re.search(r'signature="([^"]*)"', header)
    assert match, header
    return base64.b64decode(match.group(1))


def cavage_by_hand(
    sign: Callable[[bytes], bytes],
    request_target: str,
    headers: Mapping[str, str],
    names: list[str],
    *,
    algorithm: str | None = "rsa-sha256",
    key_id: str = KEY_ID,
    pseudo: Mapping[str, str] | None = None,
) -> str:
    """A Signature header value as Mastodon or GoToSocial would write it."""
    lower = {name.lower(): value for name, value in headers.items()}
    values = {"(request-target)": request_target, **(pseudo or {})}
    lines = [f"{name}: {values[name] if name in values else lower.get(name, '')}"
             for name in names]
    signature = b64(sign("\n".join(lines).encode()))
    params = f'keyId="{key_id}",'
    if algorithm is not None:
        params += f'algorithm="{algorithm}",'
    for name, value in (pseudo or {}).items():
        params += f"{name[1:-1]}={value},"
    return params + f'headers="{" ".join(names)}",signature="{signature}"'


def rfc9421_by_hand(
    sign: Callable[[bytes], bytes],
    components: list[tuple[str, str]],
    params: str,
    *,
    label: str = "sig1",
) -> dict[str, str]:
    """Signature-Input and Signature for this signature base, written out in the test."""
    signature_params = "(" + " ".join(f'"{name}"' for name, _ in components) + ")" + params
    base = "".join(f'"{name}": {value}\n' for name, value in components)
    base += f'"@signature-params": {signature_params}'
    return {
        "Signature-Input": f"{label}={signature_params}",
        "Signature": f"{label}=:{b64(sign(base.encode()))}:",
    }


def signed(
    scheme: str,
    method: str,
    url: str,
    body: bytes | None,
    key: PrivateKey = RSA_KEY,
    *,
    now: datetime = NOW,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers a server receives from our own client: extra ones, signature, and Host."""
    headers = dict(extra or {})
    if body is not None:
        headers.setdefault("Content-Type", AS2)
    headers.update(sign_request(scheme, method, url, headers, body, SigningKey(KEY_ID, key), now))
    headers.setdefault("Host", url.split("/")[2])  # what the HTTP client adds for RFC 9421
    return headers


def refused(reason: str | None, method: str, target: str, headers: Mapping[str, str],
            body: bytes | None, key: PrivateKey = RSA_KEY, **kwargs: object) -> None:
    """Verification fails, with a reason matching `reason` unless it is None."""
    with pytest.raises(SignatureError, match=reason):
        verify_request(method, target, headers, body, key.public_key(), now=NOW, **kwargs)


# --- golden vectors ------------------------------------------------------------------------


def test_draft_basic_test_vector_is_reproduced_byte_for_byte() -> None:
    # given the draft's request without a body, its key and its date
    key = SigningKey("Test", load_private_key(DRAFT_PEM))

    # when we sign it
    added = sign_request(
        CAVAGE, "POST", "http://example.com/foo?param=value&pet=dog", {}, None, key, DRAFT_NOW
    )

    # then the headers are those of draft-cavage-12 appendix C.2
    assert added == {
        "Host": "example.com",
        "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
        "Signature": DRAFT_C2,
    }


def test_draft_all_headers_vector_verifies() -> None:
    draft_public = load_private_key(DRAFT_PEM).public_key()
    headers = {
        "Host": "example.com",
        "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
        "Content-Type": "application/json",
        "Digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        "Content-Length": "18",
        "Signature": DRAFT_ALL_HEADERS,
    }
    scheme = verify_request(
        "POST", "/foo?param=value&pet=dog", headers, DRAFT_BODY, draft_public, now=DRAFT_NOW
    )
    assert scheme == CAVAGE


def test_draft_basic_vector_is_refused_on_a_post_because_the_body_is_unsigned() -> None:
    headers = {"Host": "example.com", "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
               "Digest": sha256_digest(DRAFT_BODY), "Signature": DRAFT_C2}
    draft_public = load_private_key(DRAFT_PEM).public_key()
    with pytest.raises(SignatureError, match="digest"):
        verify_request("POST", "/foo?param=value&pet=dog", headers, DRAFT_BODY, draft_public,
                       now=DRAFT_NOW)


GOLDEN_CAVAGE_POST = (
    'keyId="https://chapters.example.org/actors/dublin#main-key",algorithm="rsa-sha256",'
    'headers="(request-target) host date digest content-type",signature="'
    "gE3PJIbxNsekoM9huqVH3flWm+S6hKAG5RWgPqZd33ZekDrh8JKfgqz5nP2F8yBHxHmCw8mffaknebMWqx/y"
    "9w5rklJ7uATkGL91PGMMlAxAAxqMP2pOVPYvqv/qnfz/bXFSaouH25uQALrJLglPSUO1DX7oYrxKS6IMVfgo"
    "7muCjI/SZOqxEx7ecMykZt0QliBQQIzgEcFMTnvqyemOwUf65h1dITqfchZVeqVmom2shGs0Mr7MPf5DGfj2"
    "XmLHrTSe89uHrTXQlrbX28dRYYArl0EnhdpV2wq2vS+DtVupHiIK/fVUkvZz/BmdClUhyXoxvHw/L8UXtn03"
    "xrrJGQ=="
    '"'
)


def test_golden_cavage_post_to_a_mastodon_inbox() -> None:
    # when we sign a delivery the way Mastodon expects it
    added = sign_request(CAVAGE, "POST", "https://mastodon.example/inbox",
                         {"content-type": AS2}, BODY, SigningKey(KEY_ID, RSA_KEY), NOW)

    # then every header is exactly as recorded
    assert added == {
        "Host": "mastodon.example",
        "Date": HTTP_NOW,
        "Digest": "SHA-256=OFEvxFGSoy5SsxMW96Bm1Vk4Elo5FqPvdA8xnOnaelU=",
        "Signature": GOLDEN_CAVAGE_POST,
    }
    # and the signature is over this signing string, written out independently
    signing_string = (
        "(request-target): post /inbox\n"
        "host: mastodon.example\n"
        f"date: {HTTP_NOW}\n"
        f"digest: {sha256_digest(BODY)}\n"
        f"content-type: {AS2}"
    )
    RSA_KEY.public_key().verify(signature_param(added["Signature"]), signing_string.encode(),
                                PKCS1v15(), SHA256())


GOLDEN_CAVAGE_GET = (
    'keyId="https://chapters.example.org/actors/dublin#main-key",algorithm="rsa-sha256",'
    'headers="(request-target) host date",signature="'
    "KIAgoNSnfrL+5XZ1TF6TPq/1uCswoQO/fIgjoU59hxX5r6nL1QIWmqNxVBySTRxwBAjfRkNiV3CFNkBj5hKj"
    "sRl648Y1zNNg5Ga5QJNXzQN+GYQJvHn4zF1jnkLNq1eeN8vlCficD4DVXGGSqOynkKov8NvBiPxCff+NOKgW"
    "DqtLhserag2uNJTpAUHhramlkRmzoHOHAE1U8EyVCUoIVzfcyKkVAZbtvKamYKyu2iThXwXWWyl3kkVV+R6w"
    "Q7N6WhWkMnHVjw/VSoZBtvNG0XTka1rJZaoNmmR9EzCb6v25oBBlhk4Qp22lUVBoRan308X40LrC5tOBY8VO"
    "5pY9AA=="
    '"'
)


def test_golden_cavage_get_keeps_the_query_in_request_target() -> None:
    added = sign_request(CAVAGE, "GET", "https://Mastodon.Example:443/users/alice/outbox?page=true",
                         {}, None, SigningKey(KEY_ID, RSA_KEY), NOW)

    assert added == {"Host": "mastodon.example", "Date": HTTP_NOW, "Signature": GOLDEN_CAVAGE_GET}
    signing_string = (
        "(request-target): get /users/alice/outbox?page=true\n"
        "host: mastodon.example\n"
        f"date: {HTTP_NOW}"
    )
    RSA_KEY.public_key().verify(signature_param(added["Signature"]), signing_string.encode(),
                                PKCS1v15(), SHA256())


def test_golden_cavage_ed25519_says_hs2019_and_keeps_a_non_default_port() -> None:
    added = sign_request(CAVAGE, "GET", "http://peer.example:8080/actor", {}, None,
                         SigningKey(KEY_ID, ED_KEY), NOW)

    assert added == {
        "Host": "peer.example:8080",
        "Date": HTTP_NOW,
        "Signature": f'keyId="{KEY_ID}",algorithm="hs2019",headers="(request-target) host date",'
        'signature="qWmGpD0fewIDtYvi48qlPN3NHbd/VGSgPL4Xmxj7cTDm9T9PEcuwpfweJVh+'
        'c5kD5soV00Pms+RtN+NBprRBCw=="',
    }
    signing_string = f"(request-target): get /actor\nhost: peer.example:8080\ndate: {HTTP_NOW}"
    ED_KEY.public_key().verify(signature_param(added["Signature"]), signing_string.encode())


GOLDEN_RFC9421_INPUT = (
    'sig1=("@method" "@target-uri" "@authority" "content-digest");created=1784052191'
    ';keyid="https://chapters.example.org/actors/dublin#main-key";alg="rsa-v1_5-sha256"'
)


def test_golden_rfc9421_post() -> None:
    added = sign_request(RFC9421, "POST", "https://fedify.example/inbox", {"Content-Type": AS2},
                         BODY, SigningKey(KEY_ID, RSA_KEY), NOW)

    assert added == {
        "Content-Digest": content_digest(BODY),
        "Signature-Input": GOLDEN_RFC9421_INPUT,
        "Signature": (
            "sig1=:"
            "NTPwD+qDYNg8BF0t+kdzwBrt1VXC9AxoHCuAnMlQPCSRJfQHDCTTaVn4qinfqKk1Krx4Ci1V/Nc89Px3RKE1"
            "JrbBk8cAp/iJ/ul2MsQMHrSSqtZmfRINSMZsI7xg6WvDYNnG73IXgpmZ5vdhTuQ07BnLCuwyjSLc0Ln0S1fW"
            "hqjgmoBOb06pFITy6ptxG7BpbZM5BUR716TGZrN5IrvAwRX34UaTXOOuIrjgPrT6AdMEbp9xf66WR413TgmS"
            "lO4MHaEazN4SeylWIiSzXKLah1ti5kkFhS/LT4RNkyU0RRMp57W9/w4nuyXKbS7vnYll4Xb4AeOKdjny0HY0"
            "+Um3jg=="
            ":"
        ),
    }
    base = (
        '"@method": POST\n'
        '"@target-uri": https://fedify.example/inbox\n'
        '"@authority": fedify.example\n'
        f'"content-digest": {content_digest(BODY)}\n'
        f'"@signature-params": {GOLDEN_RFC9421_INPUT.removeprefix("sig1=")}'
    )
    signature = base64.b64decode(added["Signature"].removeprefix("sig1=:").removesuffix(":"))
    RSA_KEY.public_key().verify(signature, base.encode(), PKCS1v15(), SHA256())


def test_golden_rfc9421_ed25519_get() -> None:
    added = sign_request(RFC9421, "GET", "https://fedify.example/users/carol?x=1", {}, None,
                         SigningKey(KEY_ID, ED_KEY), NOW)

    signature_input = (
        'sig1=("@method" "@target-uri" "@authority");created=1784052191'
        f';keyid="{KEY_ID}";alg="ed25519"'
    )
    assert added == {
        "Signature-Input": signature_input,
        "Signature": "sig1=:nODMM+RNVwJC6luNkMT/fzfLgEUv3aPxJ5OK4uK4JqgGmm/PoqbUhyfngnf+"
        "yL47aW5gDNTfmvY/E9niIPE8CA==:",
    }
    base = (
        '"@method": GET\n'
        '"@target-uri": https://fedify.example/users/carol?x=1\n'
        '"@authority": fedify.example\n'
        f'"@signature-params": {signature_input.removeprefix("sig1=")}'
    )
    signature = base64.b64decode(added["Signature"].removeprefix("sig1=:").removesuffix(":"))
    ED_KEY.public_key().verify(signature, base.encode())


def test_rfc9421_example_b26_is_refused_because_its_post_body_is_unsigned() -> None:
    # RFC 9421's own Ed25519 example covers no content-digest; Mastodon would refuse it too.
    headers = {
        "Host": "example.com",
        "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "Content-Type": "application/json",
        "Content-Digest": content_digest(DRAFT_BODY),
        "Content-Length": "18",
        "Signature-Input": RFC_B26_INPUT,
        "Signature": RFC_B26_SIGNATURE,
    }
    assert signature_key_id(headers) == (RFC9421, "test-key-ed25519")
    with pytest.raises(SignatureError, match="content-digest"):
        verify_request("POST", "/foo?param=Value&Pet=dog", headers, DRAFT_BODY,
                       load_public_key(RFC_ED25519_PUBLIC_PEM),
                       now=datetime.fromtimestamp(1618884473, UTC))


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA_KEY, ED_KEY], ids=["rsa", "ed25519"])
@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
@pytest.mark.parametrize("method,body", [("GET", None), ("POST", BODY)], ids=["get", "post"])
def test_round_trip(key: PrivateKey, scheme: str, method: str, body: bytes | None) -> None:
    headers = signed(scheme, method, "https://chapters.example.org/inbox?x=1", body, key)

    assert signature_key_id(headers) == (scheme, KEY_ID)
    assert verify_request(method, "/inbox?x=1", headers, body, key.public_key(), now=NOW) == scheme
    other = RSA_KEY if key is ED_KEY else load_private_key(DRAFT_PEM)
    with pytest.raises(SignatureError):
        verify_request(method, "/inbox?x=1", headers, body, other.public_key(), now=NOW)


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
def test_a_changed_method_or_path_is_refused(scheme: str) -> None:
    headers = signed(scheme, "GET", "https://chapters.example.org/actors/dublin", None)

    refused(None, "GET", "/actors/cork", headers, None)
    refused(None, "HEAD", "/actors/dublin", headers, None)


# --- the algorithm is the key's, never the request's ---------------------------------------


def mastodon_post_headers() -> dict[str, str]:
    return {"Host": "chapters.example.org", "Date": HTTP_NOW, "Digest": sha256_digest(BODY),
            "Content-Type": AS2}


CAVAGE_POST_NAMES = ["(request-target)", "host", "date", "digest", "content-type"]


@pytest.mark.parametrize("algorithm,reason", [
    ("hmac-sha256", "algorithm 'hmac-sha256' does not fit an RSA key"),
    ("hs2019", "does not match"),
    (None, "does not match"),
])
def test_hmac_keyed_with_the_public_key_is_refused(algorithm: str | None, reason: str) -> None:
    # given a forgery that the httpsig package accepts: an HMAC whose secret is the victim's
    # public key PEM, which anyone can fetch from the actor document
    secret = public_pem(RSA_KEY)
    headers = mastodon_post_headers()
    headers["Signature"] = cavage_by_hand(
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
        "post /inbox", headers, CAVAGE_POST_NAMES, algorithm=algorithm,
    )

    # then it is refused: by name when it says hmac, by the RSA check otherwise
    refused(reason, "POST", "/inbox", headers, BODY)


def test_rfc9421_hmac_keyed_with_the_public_key_is_refused() -> None:
    secret = public_pem(RSA_KEY)
    headers = {"Host": "chapters.example.org", "Content-Digest": content_digest(BODY)}
    headers |= rfc9421_by_hand(
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
        [("@method", "POST"), ("@target-uri", "https://chapters.example.org/inbox"),
         ("content-digest", content_digest(BODY))],
        f';created={CREATED};keyid="{KEY_ID}";alg="hmac-sha256"',
    )
    refused("alg", "POST", "/inbox", headers, BODY)


@pytest.mark.parametrize("key,sign,algorithm", [
    (RSA_KEY, rsa_sign, "ed25519"),
    (RSA_KEY, rsa_sign, "rsa-sha512"),
    (RSA_KEY, rsa_sign, "hmac-sha256"),
    (ED_KEY, ed_sign, "rsa-sha256"),
    (ED_KEY, ed_sign, "hmac-sha256"),
])
def test_an_algorithm_that_does_not_fit_the_key_is_refused_even_if_the_signature_is_good(
    key: PrivateKey, sign: Callable[[bytes], bytes], algorithm: str
) -> None:
    # the signature itself is valid for the key; only the algorithm parameter is wrong
    headers = mastodon_post_headers()
    headers["Signature"] = cavage_by_hand(sign, "post /inbox", headers, CAVAGE_POST_NAMES,
                                          algorithm=algorithm)
    refused("algorithm", "POST", "/inbox", headers, BODY, key)


@pytest.mark.parametrize("key,sign,algorithm", [
    (RSA_KEY, rsa_sign, "rsa-sha256"),
    (RSA_KEY, rsa_sign, "hs2019"),
    (RSA_KEY, rsa_sign, "RSA-SHA256"),
    (RSA_KEY, rsa_sign, None),
    (ED_KEY, ed_sign, "hs2019"),
    (ED_KEY, ed_sign, "ed25519"),
    (ED_KEY, ed_sign, None),
])
def test_algorithms_that_fit_the_key_are_accepted(
    key: PrivateKey, sign: Callable[[bytes], bytes], algorithm: str | None
) -> None:
    headers = mastodon_post_headers()
    headers["Signature"] = cavage_by_hand(sign, "post /inbox", headers, CAVAGE_POST_NAMES,
                                          algorithm=algorithm)
    assert verify_request("POST", "/inbox", headers, BODY, key.public_key(), now=NOW) == CAVAGE


@pytest.mark.parametrize("key,sign,alg", [
    (RSA_KEY, rsa_sign, "ed25519"),
    (RSA_KEY, rsa_sign, "rsa-pss-sha512"),
    (ED_KEY, ed_sign, "rsa-v1_5-sha256"),
])
def test_rfc9421_alg_that_does_not_fit_the_key_is_refused_even_if_the_signature_is_good(
    key: PrivateKey, sign: Callable[[bytes], bytes], alg: str
) -> None:
    headers = {"Host": "chapters.example.org"}
    headers |= rfc9421_by_hand(
        sign, [("@method", "GET"), ("@target-uri", "https://chapters.example.org/actor")],
        f';created={CREATED};keyid="{KEY_ID}";alg="{alg}"',
    )
    refused("alg", "GET", "/actor", headers, None, key)


def test_a_key_of_another_type_is_refused() -> None:
    headers = signed(CAVAGE, "GET", "https://chapters.example.org/actor", None)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(SignatureError, match="key type"):
        verify_request("GET", "/actor", headers, None, other, now=NOW)  # type: ignore[arg-type]


# --- digest --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
def test_a_changed_body_is_refused(scheme: str) -> None:
    headers = signed(scheme, "POST", "https://chapters.example.org/inbox", BODY)
    refused("igest", "POST", "/inbox", headers, BODY.replace(b"Follow", b"Delete"))


def test_cavage_post_that_does_not_sign_digest_is_refused() -> None:
    headers = mastodon_post_headers()
    names = ["(request-target)", "host", "date", "content-type"]
    headers["Signature"] = cavage_by_hand(rsa_sign, "post /inbox", headers, names)
    refused("must cover digest", "POST", "/inbox", headers, BODY)


def test_cavage_signed_digest_missing_from_the_request_is_refused() -> None:
    headers = mastodon_post_headers()
    headers["Signature"] = cavage_by_hand(rsa_sign, "post /inbox", headers, CAVAGE_POST_NAMES)
    del headers["Digest"]
    refused("Digest header is missing", "POST", "/inbox", headers, BODY)


@pytest.mark.parametrize("digest,ok", [
    ("SHA-512=" + b64(hashlib.sha512(BODY).digest()) + ", SHA-256=" + b64(
        hashlib.sha256(BODY).digest()), True),
    ("sha-256=" + b64(hashlib.sha256(BODY).digest()), True),
    ("SHA-512=" + b64(hashlib.sha512(BODY).digest()), False),
    ("SHA-256=" + b64(hashlib.sha256(b"other").digest()), False),
    ("SHA-256=" + b64(hashlib.sha256(BODY).digest()) + ",SHA-256=" + b64(
        hashlib.sha256(b"other").digest()), False),
    ("SHA-256=not base64!", False),
    ("SHA-256", False),
])
def test_cavage_digest_must_hold_a_matching_sha256(digest: str, ok: bool) -> None:
    headers = mastodon_post_headers() | {"Digest": digest}
    headers["Signature"] = cavage_by_hand(rsa_sign, "post /inbox", headers, CAVAGE_POST_NAMES)
    if ok:
        assert verify_request("POST", "/inbox", headers, BODY, RSA_KEY.public_key(), now=NOW)
    else:
        refused("igest", "POST", "/inbox", headers, BODY)


def rfc9421_post(digest: str, components: list[str]) -> dict[str, str]:
    values = {"@method": "POST", "@target-uri": "https://chapters.example.org/inbox",
              "content-digest": digest}
    headers = {"Host": "chapters.example.org", "Content-Digest": digest}
    return headers | rfc9421_by_hand(rsa_sign, [(name, values[name]) for name in components],
                                     f';created={CREATED};keyid="{KEY_ID}"')


def test_rfc9421_post_that_does_not_cover_content_digest_is_refused() -> None:
    headers = rfc9421_post(content_digest(BODY), ["@method", "@target-uri"])
    refused("content-digest", "POST", "/inbox", headers, BODY)


def test_rfc9421_content_digest_without_sha256_is_refused() -> None:
    digest = f"sha-512=:{b64(hashlib.sha512(BODY).digest())}:"
    headers = rfc9421_post(digest, ["@method", "@target-uri", "content-digest"])
    refused("sha-256", "POST", "/inbox", headers, BODY)


def test_rfc9421_wrong_content_digest_is_refused() -> None:
    headers = rfc9421_post(content_digest(b"other"), ["@method", "@target-uri", "content-digest"])
    refused("Content-Digest", "POST", "/inbox", headers, BODY)


# --- time ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
@pytest.mark.parametrize("minutes,reason", [
    (-59, None), (59, None), (-61, "too old"), (61, "future"), (-24 * 60, "too old"),
])
def test_signature_time_must_be_within_an_hour_either_way(
    scheme: str, minutes: int, reason: str | None
) -> None:
    headers = signed(scheme, "GET", "https://chapters.example.org/actor", None,
                     now=NOW + timedelta(minutes=minutes))
    if reason is None:
        assert verify_request("GET", "/actor", headers, None, RSA_KEY.public_key(), now=NOW)
    else:
        refused(reason, "GET", "/actor", headers, None)


def test_the_window_can_be_narrowed() -> None:
    headers = signed(CAVAGE, "GET", "https://chapters.example.org/actor", None,
                     now=NOW - timedelta(minutes=10))
    refused("too old", "GET", "/actor", headers, None, window=timedelta(minutes=5))


def gotosocial_get(pseudo: dict[str, str], names: list[str], algorithm: str = "hs2019"
                   ) -> dict[str, str]:
    headers = {"Host": "chapters.example.org", "Date": HTTP_NOW}
    headers["Signature"] = cavage_by_hand(rsa_sign, "get /actor", headers, names,
                                          algorithm=algorithm, pseudo=pseudo)
    return headers


def test_cavage_created_may_replace_date_with_hs2019() -> None:
    headers = gotosocial_get({"(created)": str(CREATED)}, ["(request-target)", "(created)", "host"])
    assert verify_request("GET", "/actor", headers, None, RSA_KEY.public_key(), now=NOW) == CAVAGE


def test_cavage_created_outside_the_window_is_refused() -> None:
    old = str(CREATED - 2 * 3600)
    headers = gotosocial_get({"(created)": old}, ["(request-target)", "(created)", "host"])
    refused("created is too old", "GET", "/actor", headers, None)


def test_cavage_created_with_rsa_sha256_is_refused() -> None:
    headers = gotosocial_get({"(created)": str(CREATED)}, ["(request-target)", "(created)", "host"],
                             algorithm="rsa-sha256")
    refused("hs2019", "GET", "/actor", headers, None)


@pytest.mark.parametrize("expires,reason", [(CREATED + 60, None), (CREATED - 1, "expired")])
def test_cavage_expires_must_not_be_past(expires: int, reason: str | None) -> None:
    headers = gotosocial_get({"(expires)": str(expires)},
                             ["(request-target)", "(expires)", "host", "date"])
    if reason is None:
        assert verify_request("GET", "/actor", headers, None, RSA_KEY.public_key(), now=NOW)
    else:
        refused(reason, "GET", "/actor", headers, None)


def test_cavage_without_date_or_created_is_refused() -> None:
    headers = gotosocial_get({}, ["(request-target)", "host"])
    refused("date or \\(created\\)", "GET", "/actor", headers, None)


def test_cavage_unparseable_date_is_refused() -> None:
    headers = {"Host": "chapters.example.org", "Date": "yesterday at noon"}
    headers["Signature"] = cavage_by_hand(rsa_sign, "get /actor", headers,
                                          ["(request-target)", "host", "date"])
    refused("HTTP date", "GET", "/actor", headers, None)


def rfc9421_get(params: str) -> dict[str, str]:
    headers = {"Host": "chapters.example.org"}
    return headers | rfc9421_by_hand(
        rsa_sign, [("@method", "GET"), ("@target-uri", "https://chapters.example.org/actor")],
        params,
    )


@pytest.mark.parametrize("params,reason", [
    (f';keyid="{KEY_ID}"', "created"),
    (f';created=?1;keyid="{KEY_ID}"', "created"),
    (f';created={CREATED - 7200};keyid="{KEY_ID}"', "too old"),
    (f';created={CREATED + 7200};keyid="{KEY_ID}"', "future"),
    (f';created={CREATED};expires={CREATED - 1};keyid="{KEY_ID}"', "expired"),
    (f';created={CREATED};keyid=token', "keyid"),
    (f";created={CREATED}", "keyid"),
])
def test_rfc9421_created_keyid_and_expires_are_checked(params: str, reason: str) -> None:
    refused(reason, "GET", "/actor", rfc9421_get(params), None)


def test_rfc9421_unexpired_signature_is_accepted() -> None:
    headers = rfc9421_get(f';created={CREATED};expires={CREATED + 300};keyid="{KEY_ID}"')
    assert verify_request("GET", "/actor", headers, None, RSA_KEY.public_key(), now=NOW)


# --- what must be signed -------------------------------------------------------------------


@pytest.mark.parametrize("names,reason", [
    (["host", "date"], "request-target"),
    (["(request-target)", "date"], "must cover host"),
    (None, "request-target"),  # no headers parameter: the default is "date" alone
    (["(request-target)", "host", "date", "accept"], "'accept' is missing"),
    (["(request-target)", "host", "date", "(foo)"], "pseudo-header"),
])
def test_cavage_get_must_sign_request_target_host_and_date(
    names: list[str] | None, reason: str
) -> None:
    headers = {"Host": "chapters.example.org", "Date": HTTP_NOW}
    signature = cavage_by_hand(rsa_sign, "get /actor", headers, names or ["date"])
    if names is None:
        signature = re.sub(r'headers="[^"]*",', "", signature)
    refused(reason, "GET", "/actor", headers | {"Signature": signature}, None)


@pytest.mark.parametrize("components,ok", [
    ([("@method", "GET"), ("@target-uri", "https://chapters.example.org/actor")], True),
    ([("@method", "GET"), ("@authority", "chapters.example.org"), ("@path", "/actor")], True),
    ([("@target-uri", "https://chapters.example.org/actor")], False),
    ([("@method", "GET"), ("@authority", "chapters.example.org")], False),
    ([("@method", "GET"), ("@path", "/actor")], False),
])
def test_rfc9421_must_cover_method_and_target(components: list[tuple[str, str]], ok: bool) -> None:
    headers = {"Host": "chapters.example.org"}
    headers |= rfc9421_by_hand(rsa_sign, components, f';created={CREATED};keyid="{KEY_ID}"')
    if ok:
        assert verify_request("GET", "/actor", headers, None, RSA_KEY.public_key(), now=NOW)
    else:
        refused("must cover", "GET", "/actor", headers, None)


# --- query string --------------------------------------------------------------------------


def test_cavage_signature_without_the_query_is_accepted_second() -> None:
    # GoToSocial retries without the query after a 401, and so may older senders
    headers = {"Host": "chapters.example.org", "Date": HTTP_NOW}
    headers["Signature"] = cavage_by_hand(rsa_sign, "get /actors/dublin/outbox", headers,
                                          ["(request-target)", "host", "date"])
    target = "/actors/dublin/outbox?page=2"
    assert verify_request("GET", target, headers, None, RSA_KEY.public_key(), now=NOW) == CAVAGE


def test_cavage_signature_over_another_query_is_refused() -> None:
    headers = signed(CAVAGE, "GET", "https://chapters.example.org/actors/dublin/outbox?page=1",
                     None)
    refused("does not match", "GET", "/actors/dublin/outbox?page=2", headers, None)


def test_rfc9421_target_uri_includes_the_query() -> None:
    headers = signed(RFC9421, "GET", "https://chapters.example.org/actors/dublin/outbox?page=1",
                     None)
    refused(None, "GET", "/actors/dublin/outbox?page=2", headers, None)
    assert verify_request("GET", "/actors/dublin/outbox?page=1", headers, None,
                          RSA_KEY.public_key(), now=NOW) == RFC9421


# --- peers as they really sign -------------------------------------------------------------


def test_mastodon_delivery_verifies() -> None:
    mastodon_key = "https://mastodon.example/users/alice#main-key"
    headers = {
        "Host": "chapters.example.org",
        "Date": HTTP_NOW,
        "Digest": sha256_digest(BODY),
        "Content-Type": AS2,
        "User-Agent": "http.rb/5.1.1 (Mastodon/4.5.0; +https://mastodon.example/)",
        "Accept-Encoding": "gzip",
    }
    headers["Signature"] = cavage_by_hand(rsa_sign, "post /actors/dublin/inbox", headers,
                                          CAVAGE_POST_NAMES, key_id=mastodon_key)

    assert signature_key_id(headers) == (CAVAGE, mastodon_key)
    assert verify_request("POST", "/actors/dublin/inbox", headers, BODY, RSA_KEY.public_key(),
                          now=NOW) == CAVAGE


def test_gotosocial_delivery_and_fetch_verify() -> None:
    gts_key = "https://gts.example/users/bob/main-key"  # no fragment
    post = {"Host": "chapters.example.org", "Date": HTTP_NOW, "Digest": sha256_digest(BODY),
            "Content-Type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
    post["Signature"] = cavage_by_hand(rsa_sign, "post /inbox", post,
                                       ["(request-target)", "host", "date", "digest"],
                                       algorithm="hs2019", key_id=gts_key)
    get = {"Host": "chapters.example.org", "Date": HTTP_NOW}
    get["Signature"] = cavage_by_hand(rsa_sign, "get /actors/dublin/outbox?page=true", get,
                                      ["(request-target)", "host", "date"],
                                      algorithm="hs2019", key_id=gts_key)

    assert signature_key_id(post) == (CAVAGE, gts_key)
    assert verify_request("POST", "/inbox", post, BODY, RSA_KEY.public_key(), now=NOW) == CAVAGE
    assert verify_request("GET", "/actors/dublin/outbox?page=true", get, None,
                          RSA_KEY.public_key(), now=NOW) == CAVAGE


def fedify_post(origin: str) -> dict[str, str]:
    """RFC 9421 the way Fedify signs its first knock (federation-profile.md 4.4)."""
    host = origin.split("//")[1]
    headers = {"Host": host, "Date": HTTP_NOW, "Content-Type": AS2,
               "Content-Digest": content_digest(BODY)}
    return headers | rfc9421_by_hand(
        rsa_sign,
        [("@method", "POST"), ("@target-uri", f"{origin}/inbox"), ("@authority", host),
         ("host", host), ("date", HTTP_NOW), ("content-digest", content_digest(BODY))],
        f';alg="rsa-v1_5-sha256";keyid="https://fedify.example/users/carol#main-key"'
        f";created={CREATED}",
    )


def test_fedify_first_knock_verifies() -> None:
    headers = fedify_post("https://chapters.example.org")
    assert signature_key_id(headers) == (RFC9421, "https://fedify.example/users/carol#main-key")
    assert verify_request("POST", "/inbox", headers, BODY, RSA_KEY.public_key(), now=NOW) == RFC9421


def test_rfc9421_over_plain_http_verifies_unless_https_is_required() -> None:
    # a peer on loopback signs an http:// target URI
    headers = fedify_post("http://127.0.0.1:8080")
    assert verify_request("POST", "/inbox", headers, BODY, RSA_KEY.public_key(), now=NOW) == RFC9421
    refused(None, "POST", "/inbox", headers, BODY, url_scheme="https")


def test_rfc9421_only_the_first_label_counts() -> None:
    good = signed(RFC9421, "GET", "https://chapters.example.org/actor", None)
    bad_input = f'("@method" "@target-uri");created={CREATED};keyid="https://evil.example/k"'
    bad_signature = ":" + b64(b"\0" * 256) + ":"

    good_first = good | {
        "Signature-Input": f"{good['Signature-Input']}, sig2={bad_input}",
        "Signature": f"{good['Signature']}, sig2={bad_signature}",
    }
    assert signature_key_id(good_first) == (RFC9421, KEY_ID)
    assert verify_request("GET", "/actor", good_first, None, RSA_KEY.public_key(), now=NOW)

    bad_first = good | {
        "Signature-Input": f"sig0={bad_input}, {good['Signature-Input']}",
        "Signature": f"{good['Signature']}, sig0={bad_signature}",
    }
    assert signature_key_id(bad_first) == (RFC9421, "https://evil.example/k")
    refused(None, "GET", "/actor", bad_first, None)


# --- header names in any case --------------------------------------------------------------


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
def test_header_names_are_case_insensitive(scheme: str) -> None:
    headers = signed(scheme, "POST", "https://chapters.example.org/inbox", BODY)
    shouted = {name.upper(): value for name, value in headers.items()}
    mixed = {"".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name)): value
             for name, value in headers.items()}
    proxy = CIMultiDictProxy(CIMultiDict((name.lower(), value) for name, value in headers.items()))

    for variant in (shouted, mixed, proxy):
        assert signature_key_id(variant) == (scheme, KEY_ID)
        assert verify_request("POST", "/inbox", variant, BODY, RSA_KEY.public_key(),
                              now=NOW) == scheme


def test_repeated_header_lines_are_joined_like_http_does() -> None:
    # a multidict keeps both Accept lines; the signing string holds them joined by ", "
    lines = CIMultiDict([("Host", "chapters.example.org"), ("Date", HTTP_NOW),
                         ("Accept", AS2), ("Accept", "application/ld+json")])
    signature = cavage_by_hand(rsa_sign, "get /actor", {**lines, "accept": f"{AS2}, "
                                                        "application/ld+json"},
                               ["(request-target)", "host", "date", "accept"])
    lines.add("Signature", signature)
    assert verify_request("GET", "/actor", CIMultiDictProxy(lines), None, RSA_KEY.public_key(),
                          now=NOW) == CAVAGE


# --- malformed input only ever raises SignatureError ---------------------------------------

MALFORMED_CAVAGE = [
    "",
    " ",
    "keyId",
    'keyId="a',
    'keyId=a"b",signature="AAAA"',
    'keyId="a",,signature="AAAA"',
    'keyId="a",signature="AAAA",',
    'keyId="a" signature="AAAA"',
    'keyId="a",keyId="b",signature="AAAA",headers="(request-target) host date"',
    'signature="AAAA",headers="(request-target) host date"',
    'keyId="",signature="AAAA"',
    'keyId="a",headers="(request-target) host date"',
    'keyId="a",signature="!!!not base64!!!",headers="(request-target) host date"',
    'keyId="a",signature="AAA",headers="(request-target) host date"',
    'keyId="a",signature="",headers="(request-target) host date"',
    'keyId="a",signature="AAAA",headers=""',
    'keyId="a",signature="AAAA",headers="(request-target) host date",created=soon',
    'keyId="a",signature="AAAA",headers="(request-target) (expires) host date"',
    'keyId="a",signature="AAAA",headers="(request-target) host date",expires=99999999999999999',
    'keyId="\u00e9",signature="\u00e9",headers="(request-target) host date"',
    'keyId="a",signature="AAAA",headers="(request-target) host date",' + "x" * 20_000 + '="1"',
    'keyId="' + "a" * 100_000 + '",signature="AAAA"',
    "=" * 10_000,
    '"' * 10_000,
    "keyId=" + "\\" * 10_000,
    'keyId="' + "\\a" * 10_000,
    'keyId="' + "a\\" * 10_000 + 'x,signature="AAAA"',
]


@pytest.mark.parametrize("value", MALFORMED_CAVAGE, ids=range(len(MALFORMED_CAVAGE)))
def test_malformed_cavage_signature_raises_signature_error(value: str) -> None:
    headers = {"Host": "chapters.example.org", "Date": HTTP_NOW, "Signature": value}
    with pytest.raises(SignatureError):
        verify_request("GET", "/actor", headers, None, RSA_KEY.public_key(), now=NOW)
    with contextlib.suppress(SignatureError):
        signature_key_id(headers)


MALFORMED_RFC9421 = [
    ("", "sig1=:AAAA:"),
    ("sig1", "sig1=:AAAA:"),
    ('sig1=("@method"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k"', ""),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k"', "sig1=AAAA"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k"', "sig1=:!!:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k"', "sig2=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k"', "sig1=(:AAAA:)"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k"', "sig1=:AAAA:, sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k";keyid="j"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k", sig1=()', "sig1=:AAAA:"),
    (f'sig1="@method";created={CREATED};keyid="k"', "sig1=:AAAA:"),
    (f'sig1=(@method);created={CREATED};keyid="k"', "sig1=:AAAA:"),
    (f'sig1=(1 2);created={CREATED};keyid="k"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED}.5;keyid="k"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={10**20};keyid="k"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri" "@query-param");created={CREATED};keyid="k"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri" "x-missing");created={CREATED};keyid="k"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri" "@unknown");created={CREATED};keyid="k"', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k";foo=1', "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="\u00e9"', "sig1=:AAAA:"),
    ('sig1=("@method" "@target-uri" ' + '"a" ' * 5000 + ");keyid=\"k\"", "sig1=:AAAA:"),
    (f'sig1=("@method" "@target-uri");created={CREATED};keyid="k"', "sig1=:" + "A" * 20_000 + ":"),
]


@pytest.mark.parametrize("signature_input,signature", MALFORMED_RFC9421,
                         ids=range(len(MALFORMED_RFC9421)))
def test_malformed_rfc9421_signature_raises_signature_error(
    signature_input: str, signature: str
) -> None:
    headers = {"Host": "chapters.example.org", "Signature-Input": signature_input,
               "Signature": signature}
    with pytest.raises(SignatureError):
        verify_request("GET", "/actor", headers, None, RSA_KEY.public_key(), now=NOW)
    with contextlib.suppress(SignatureError):
        signature_key_id(headers)


def mutations(text: str, rng: random.Random, count: int) -> list[str]:
    alphabet = '",=;:()\\ \t\u00e9?@/abcAZ09+-_*'
    found = []
    for _ in range(count):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(chars) + 1)
            match rng.randrange(3):
                case 0 if chars:
                    del chars[min(position, len(chars) - 1)]
                case 1:
                    chars.insert(position, rng.choice(alphabet))
                case _ if chars:
                    chars[min(position, len(chars) - 1)] = rng.choice(alphabet)
        found.append("".join(chars))
    return found


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
def test_mutated_signature_headers_never_raise_anything_else(scheme: str) -> None:
    rng = random.Random(9421)
    headers = signed(scheme, "POST", "https://chapters.example.org/inbox", BODY)
    for name in ("Signature", "Signature-Input", "Digest", "Content-Digest", "Date", "Host"):
        if name not in headers:
            continue
        for value in mutations(headers[name], rng, 150):
            mutated = headers | {name: value}
            with contextlib.suppress(SignatureError):
                signature_key_id(mutated)
                verify_request("POST", "/inbox", mutated, BODY, RSA_KEY.public_key(), now=NOW)


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
def test_odd_header_values_raise_signature_error(scheme: str) -> None:
    headers = signed(scheme, "GET", "https://chapters.example.org/actor", None)
    for name, value in [("Host", "chapters.example.org\nX-Evil: 1"), ("Host", "ch\u00e2pters"),
                        ("Host", "\udcff"), ("Host", "")]:
        with pytest.raises(SignatureError):
            verify_request("GET", "/actor", headers | {name: value}, None, RSA_KEY.public_key(),
                           now=NOW)
    for target in ("actor", "/act or", "/\u00e9", ""):
        with pytest.raises(SignatureError):
            verify_request("GET", target, headers, None, RSA_KEY.public_key(), now=NOW)


def test_signed_header_with_a_line_break_is_refused_even_if_the_signature_is_good() -> None:
    # a line break inside a value could pass one header off as the next line of the string
    headers = {"Host": "chapters.example.org", "Date": HTTP_NOW, "X-Note": "a\ndate: " + HTTP_NOW}
    headers["Signature"] = cavage_by_hand(rsa_sign, "get /actor", headers,
                                          ["(request-target)", "host", "date", "x-note"])
    refused("line break", "GET", "/actor", headers, None)


def test_cavage_quoted_values_may_escape_quotes() -> None:
    headers = {"Signature": 'keyId="https://odd.example/k\\"1\\\\",signature="AAAA"'}
    assert signature_key_id(headers) == (CAVAGE, 'https://odd.example/k"1\\')


def test_unsigned_request_is_refused() -> None:
    with pytest.raises(SignatureError, match="not signed"):
        signature_key_id({"Host": "chapters.example.org"})
    refused("not signed", "GET", "/actor", {"Host": "chapters.example.org"}, None)


# --- keys ----------------------------------------------------------------------------------


def test_keys_are_parsed_once_per_pem() -> None:
    assert load_private_key(RSA_PEM) is load_private_key(RSA_PEM)
    pem = public_pem(RSA_KEY).decode()
    assert load_public_key(pem) is load_public_key(pem)
    assert load_public_key(pem) == RSA_KEY.public_key()
    assert load_public_key(public_pem(ED_KEY).decode()) == ED_KEY.public_key()


def test_unusable_keys_raise_value_error() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    for bad in ("", "not a key", RSA_PEM.replace("A", "B", 5), ec_pem.decode()):
        with pytest.raises(ValueError):
            load_public_key(bad)
        with pytest.raises(ValueError):
            load_private_key(bad)


# A public key on secp112r1, a curve OpenSSL does not support: cryptography raises
# UnsupportedAlgorithm, which is not a ValueError, for what is only a peer's odd key.
SECP112R1_PEM = """-----BEGIN PUBLIC KEY-----
MDIwEAYHKoZIzj0CAQYFK4EEAAYDHgAEQ8s1sG3R/4pmRV0H7NgjE6b3lB2VqBdUo+RU/A==
-----END PUBLIC KEY-----
"""


def test_a_key_on_an_unsupported_curve_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        load_public_key(SECP112R1_PEM)
    with pytest.raises(ValueError):
        load_public_key("\udcff")  # from a header or document that was not UTF-8


def test_unknown_scheme_or_hostless_url_raise_value_error() -> None:
    key = SigningKey(KEY_ID, RSA_KEY)
    with pytest.raises(ValueError):
        sign_request("httpsig", "GET", "https://chapters.example.org/", {}, None, key)
    with pytest.raises(ValueError):
        sign_request(CAVAGE, "GET", "/relative", {}, None, key)
    with pytest.raises(ValueError):
        sign_request(RFC9421, "GET", "/relative", {}, None, key)
