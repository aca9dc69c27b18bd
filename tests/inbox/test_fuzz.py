"""Ten thousand malformed requests against the inbox of a real node.

One seed decides everything, so a failure can be replayed. Most requests are unsigned and
refused early (cheap); a good share are signed with the real RSA key of a remote actor,
so that they pass the signature and reach parsing, the handlers and storage. Whatever is
sent: no 5xx, no reset or dropped connection, nothing stored from a refused request, no
local table touched, and a database that passes `PRAGMA integrity_check`.

Every request carries a token of its own (fz00042q) in its id and in its text, so a scan
of every column of every table finds anything a request left behind.

URLs that the node may fetch (key ids, objects, proofs' keys, actors) point only at the
remote served here, at a server that answers 404 to everything, at the node itself, or
are malformed: a host that needs DNS or a closed port would make the run slow, and the
node rightly answers 503 when an origin it must consult is unreachable for a while.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import re
import time
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from multidict import CIMultiDict

from federation.signatures import CAVAGE, RFC9421, SigningKey, sign_request
from tests.inbox.conftest import KEYS, Remote, public_pem
from tests.inbox.tables import row_counts, table_names
from tests.nodes import Node

SEED = 20261129
TOTAL = 10_000
CONCURRENCY = 24
AS2 = "application/activity+json"
CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
TOKEN = re.compile(r"fz\d{5}q")
# Tables of the node's own content: nothing from outside may change them.
LOCAL_TABLES = ("actors", "actor_keys", "chapters", "memberships", "objects", "items",
                "poll_votes", "event_participants", "parents", "subchapters", "decisions",
                "decision_chapters", "ballots", "tallies")


@dataclass
class Case:
    n: int
    kind: str
    body: bytes = b""
    path: str = "/inbox"
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    signed: bool = False
    may_store: bool = False  # a well-formed activity signed by its actor
    raw: bytes | None = None  # written to the socket as it is
    chunked: bool = False
    no_content_type: bool = False

    @property
    def token(self) -> str:
        return f"fz{self.n:05d}q"


@pytest.fixture
async def keyhole(aiohttp_server: Any) -> AsyncIterator[tuple[str, Counter[str]]]:
    """A server that knows no key: every made-up key id of the fuzz points here."""
    hits: Counter[str] = Counter()

    async def nothing(request: web.Request) -> web.Response:
        hits[request.path] += 1
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", nothing)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield f"http://127.0.0.1:{server.port}", hits


class Fuzzer:
    def __init__(self, rng: random.Random, node: Node, remote: Remote, keyhole: str) -> None:
        self.rng = rng
        self.node = node.base
        self.remote = remote
        self.keyhole = keyhole
        self.alice = remote.actor("alice")
        self.mallory = remote.actor("mallory")
        self.served = [f"{remote.base}/objects/note-{i}" for i in range(5)]
        for i, url in enumerate(self.served):
            remote.objects[f"/objects/note-{i}"] = {
                "@context": CONTEXT, "id": url, "type": "Note", "content": f"<p>{i}</p>",
                "attributedTo": self.mallory if i % 2 else self.alice,
                "to": [PUBLIC, f"{self.node}/actors/dublin"]}

    # --- pools of values ------------------------------------------------------------------

    def fetchable_url(self) -> str:
        """A URL the node may fetch: answered quickly, or refused before any connection."""
        rng = self.rng
        return rng.choice([
            f"{self.node}/actors/dublin", f"{self.node}/actors/nobody", f"{self.node}/actor",
            f"{self.node}/objects/{uuid.UUID(int=rng.getrandbits(128))}",
            self.alice, self.mallory, rng.choice(self.served),
            f"{self.remote.base}/objects/missing-{rng.randrange(1000)}",
            f"{self.keyhole}/users/ghost-{rng.randrange(1000)}",
            f"{self.keyhole}/k/{rng.randrange(10**6)}",
            "http://[::1", "http://[::1]x/y", "http://127.0.0.1:99999/x", "http://a..b/x",
            "http://" + "a" * 64 + ".example/x", "https:", "", "as:Public", "http://[v1.x]/",
            "javascript:alert(1)", "data:text/html,<b>x</b>", "http://a b/",
            "http://ex\u00e4mple\u200d.test/x", " http://x/", "//127.0.0.1/x",
            f"HTTP://{self.remote.base[7:]}/users/alice", "http://" + "x" * 3000,
            f"{self.remote.base}/users/alice#main-key", f"{self.remote.base}/users/alice?x=1",
        ])

    def any_url(self) -> Any:
        """Anything that may stand where a URL is expected but is never fetched: names
        that would need DNS too."""
        rng = self.rng
        if rng.random() < 0.7:
            return self.fetchable_url()
        return rng.choice([
            "http://\u4f8b\u3048.\u30c6\u30b9\u30c8/x", "http://xn--/x", PUBLIC, "http://%zz/x",
            f"{self.node}/@dublin", f"{self.node}/actors/DUBLIN", f"{self.node}/actors/dublin/",
            f"{self.node}/actors/dublin#frag", 42, None, True, [], {}, {"id": self.alice},
            {"href": PUBLIC}, ["a", ["b", ["c"]]], 1.5e300, -0.0,
        ])

    def text(self) -> str:
        rng = self.rng
        parts = ["\u202e", "\u200d", "e\u0301" * rng.randrange(1, 300), "\U0001F600", "\uFFFE",
                 "\uFFFF", "\uE000", "\u2028\u2029", "\x01\x1f\x7f", "\\", '"', "\u0085",
                 "\ufeff", "\ufdfa" * 50, "\U0001D54F" * rng.randrange(1, 500), "\u00ad",
                 "<script>alert(1)</script>", "<b>" * rng.randrange(1, 2000),
                 '<a href="javascript:x">y</a>', "<p>" + "x" * rng.randrange(10**5) + "</p>",
                 "&#0;&#xD800;&amp;&", "%00%ff", "{{7*7}}", "' OR 1=1 --"]
        return "".join(rng.choice(parts) for _ in range(rng.randrange(1, 4)))

    def value(self, depth: int = 0, fetchable: bool = True) -> Any:
        """Any JSON value; with `fetchable`, its URLs are ones the node may fetch."""
        rng = self.rng
        roll = rng.random()
        if depth > 6 or roll < 0.45:
            url = self.fetchable_url() if fetchable else self.any_url()
            return rng.choice([
                rng.randrange(-10**19, 10**19), rng.random() * 10 ** rng.randrange(-300, 300),
                True, False, None, self.text(), url, "", 0, -1])
        if roll < 0.75:
            return [self.value(depth + 1, fetchable) for _ in range(rng.randrange(0, 5))]
        return {rng.choice(["id", "type", "href", "name", "@context", "x", self.text()[:20]]):
                self.value(depth + 1, fetchable) for _ in range(rng.randrange(0, 5))}

    def audience(self) -> Any:
        rng = self.rng
        choice = rng.random()
        if choice < 0.3:
            return [PUBLIC, f"{self.node}/actors/dublin"]
        if choice < 0.5:
            return f"{self.node}/actors/dublin"
        if choice < 0.6:
            return [self.any_url() for _ in range(rng.randrange(200, 800))]
        return self.value(fetchable=False)

    def kind(self) -> Any:
        rng = self.rng
        if rng.random() < 0.85:
            return rng.choice(["Follow", "Like", "Announce", "Create", "Update", "Delete",
                               "Undo", "Accept", "Reject", "Join", "Leave", "Block", "Add",
                               "Remove", "Move", "Flag", "EmojiReact", "QuoteRequest", ""])
        return rng.choice([["Create", "Note"], ["Like", 5], "X" * 300, "create", "Follow "])

    def note(self, token: str, actor: str) -> dict[str, Any]:
        rng = self.rng
        note: dict[str, Any] = {
            "id": f"{actor}/notes/{token}",
            "type": rng.choice(["Note", "Article", "Question", "Event", "Image", "Page",
                                "Tombstone", "Person", ["Note", "Article"], 7, "Chapter",
                                "Tally"]),
            "attributedTo": actor if rng.random() < 0.6 else self.any_url(),
            "content": f"{token} {self.text()}",
            "to": self.audience(),
        }
        for name in rng.sample(["summary", "name", "cc", "inReplyTo", "contentMap", "tag",
                                "attachment", "published", "updated", "url", "proof",
                                "oneOf", "endTime", "sensitive", "@context", "countMethod",
                                "eligible", "voters", "ballots", "subchapters", "object"],
                               rng.randrange(0, 6)):
            note[name] = {
                "summary": self.text(), "name": self.text()[:200], "cc": self.audience(),
                "inReplyTo": self.any_url(), "contentMap": {"en": self.text(), "x": 5},
                "tag": [self.value() for _ in range(3)], "attachment": self.value(),
                "published": rng.choice(["2026-01-01T00:00:00Z", "yesterday", 5, None]),
                "updated": "9999-99-99T99:99:99Z", "url": self.any_url(),
                "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
                          "verificationMethod": rng.choice([
                              f"{self.alice}#ed25519-key", self.fetchable_url()]),
                          "proofPurpose": "assertionMethod",
                          "proofValue": "z" + "2" * rng.choice([86, 86, 200, 300_000])},
                "oneOf": [{"type": "Note", "name": self.text()[:50]}], "endTime": 1e308,
                "sensitive": "yes", "@context": [CONTEXT, {"x": {"@id": "y"}}],
                "countMethod": rng.choice(["members", "ballots", 3, ["members"]]),
                "eligible": rng.choice([-1, 0, 2**63, 1e9, "40", None]),
                "voters": rng.choice([-5, 41, 10**7 + 1, True]),
                "ballots": [{"type": "Note", "name": self.text()[:20],
                             "replies": {"totalItems": rng.choice([-1, 10**9, "x"])}}],
                "subchapters": [self.any_url() for _ in range(rng.randrange(0, 4))],
                "object": self.any_url(),
            }[name]
        return note

    # --- the cases ------------------------------------------------------------------------

    def case(self, n: int) -> Case:
        roll = self.rng.random()
        for share, make in ((0.26, self.json_oddity), (0.08, self.unicode_oddity),
                            (0.14, self.http_oddity), (0.26, self.as2_unsigned),
                            (0.02, self.raw_http), (0.20, self.signed),
                            (1.0, self.signed_broken)):
            if roll < share:
                return make(Case(n, make.__name__))
            roll -= share
        raise AssertionError("unreachable")

    def envelope(self, case: Case, actor: str | None = None, kind: Any = "Follow",
                 obj: Any = None) -> dict[str, Any]:
        actor = actor or self.alice
        return {"@context": CONTEXT, "id": f"{actor}/activities/{case.token}", "type": kind,
                "actor": actor, "object": obj or f"{self.node}/actors/dublin",
                "summary": case.token}

    def json_oddity(self, case: Case) -> Case:
        rng, token = self.rng, case.token
        start = json.dumps(self.envelope(case))[:-1].encode()
        digits = str(rng.choice([21, 25, 100, 4300, 4301, 5000, 50_000, 400_000]))
        depth = rng.choice([65, 100, 1000, 5000, 100_000])
        pair = rng.choice([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]")])
        nesting = pair[0] * depth + b"1" + (pair[1] * depth if rng.random() < 0.7 else b"")
        valid = json.dumps(self.envelope(case)).encode()
        options: list[Callable[[], bytes]] = [
            lambda: start + b', "n": ' + rng.choice([b"", b"-"]) + b"7" * int(digits) + b"}",
            lambda: start + b', "n": ' + nesting + b"}",
            lambda: nesting,
            lambda: start + b', "n": ' + rng.choice(
                [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1E+400", b"1e99999999"]) + b"}",
            lambda: start + b', "s": "' + rng.choice(
                [b"\\ud800", b"\\udfff", b"\\udfff\\ud800", b"x\\udbff", b"\\ud83d"]) + b'"}',
            lambda: start + b', "\\udc80' + token.encode() + b'": 1}',
            lambda: valid.replace(b"/activities/", b"/activities/\\ud800", 1),
            lambda: start + b', "s": "a\\u0000' + token.encode() + b'"}',
            lambda: start + b', "\\u0000": 1}',
            lambda: start + rng.choice([b', "id": "x"}', b', "type": "Like"}',
                                        b', "o": {"a": 1, "a": 2}}']),
            lambda: b"\xef\xbb\xbf" + valid,
            lambda: b"\xef\xbb\xbf\xef\xbb\xbf" + valid,
            lambda: valid.decode().encode(rng.choice(["utf-16", "utf-16-le", "utf-32"])),
            lambda: valid[:-1] + rng.choice([b', "x": "\xe9"}', b', "x": "\xff\xfe"}',
                                             b', "x": "\xc0\x80"}', b', "x": "\xed\xa0\x80"}',
                                             b', "x": "\xe2\x82"}']),
            lambda: valid + rng.choice([b"}", b"]", b" x", b"{}", b"\x00", b"\n\n,"]),
            lambda: rng.choice([b"", b" ", b"\r\n\t ", b"\xef\xbb\xbf", b"\x00"]),
            lambda: rng.choice([b"[]", b'"' + token.encode() + b'"', b"1", b"null", b"true",
                                b"[" + valid + b"]", b"1.5e3"]),
            lambda: valid[:rng.randrange(len(valid))],
            lambda: bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))),
            lambda: rng.choice([valid[:-1] + b", /* c */ }", valid.replace(b'"', b"'"),
                                valid[:-1] + b",}", b"{id: 1}"]),
            lambda: start + b', "big": "' + b"x" * rng.choice([10**6, 2 * 10**6]) + b'"}',
            lambda: start + b"".join(b', "k%d": %d' % (i, i) for i in range(20_000)) + b"}",
            lambda: start + b', "s": "' + (b"\\\\" * 500 + b'\\"[') * 200 + b'"}',
        ]
        case.body = rng.choice(options)()
        case.path = rng.choice(["/inbox", "/inbox", "/actors/dublin/inbox", "/actor/inbox"])
        return case

    def unicode_oddity(self, case: Case) -> Case:
        rng = self.rng
        document = self.envelope(case)
        document[rng.choice(["summary", "name", "content", self.text()[:30]])] = self.text()
        if rng.random() < 0.3:
            document["id"] = f"http://\u4f8b\u3048.\u30c6\u30b9\u30c8/{case.token}"
            document["actor"] = "http://\u4f8b\u3048.\u30c6\u30b9\u30c8/u"
        if rng.random() < 0.2:
            document["id"] = document["id"].replace("activities", "\u202eactivities\u200d")
        case.body = json.dumps(document, ensure_ascii=rng.random() < 0.5).encode()
        return case

    def http_oddity(self, case: Case) -> Case:
        rng = self.rng
        body = json.dumps(self.envelope(case)).encode()
        headers = case.headers
        garbage_key = f"{self.keyhole}/k/{rng.randrange(10**6)}"
        key_id = rng.choice([garbage_key, garbage_key, self.fetchable_url(),
                             "http://x/" + "k" * 3000, 'a"b', "", "\\"])
        choice = rng.randrange(14)
        if choice == 0:
            headers["Content-Type"] = rng.choice([
                "text/plain", "multipart/form-data; boundary=x",
                "application/json; charset=utf-16", "application/x-www-form-urlencoded",
                "*/*", ";;;", "application/ld+json; profile=x" + ";a=b" * 500])
        elif choice == 1:
            case.no_content_type = True
        elif choice == 2:
            encoding = rng.choice(["gzip", "deflate", "br", "identity", "gzip, deflate", "x-y",
                                   "gzip, gzip", "zstd", "compress"])
            headers["Content-Encoding"] = encoding
            if encoding == "gzip" and rng.random() < 0.6:
                body = gzip.compress(body)
            elif encoding == "deflate" and rng.random() < 0.6:
                body = zlib.compress(body)
            elif rng.random() < 0.5:
                body = gzip.compress(body)[: rng.randrange(1, 30)]
        elif choice == 3:
            case.chunked = True
        elif choice == 4:
            headers["Signature"] = "".join(
                chr(rng.randrange(0x20, 0x7f)) for _ in range(rng.randrange(1, 8000)))
        elif choice == 5:
            headers["Signature"] = rng.choice([
                f'keyId="{key_id}",signature="AAAA"',
                f'keyId="{key_id}",keyId="{key_id}",signature="AA=="',
                f'keyId="{key_id},signature="AAAA"', f"keyId={key_id[:50]},signature=AAAA",
                f'keyId="{key_id}",headers="(request-target) date digest",signature="!!"',
                f'keyId="{key_id}",algorithm="hmac-sha256",signature="AAAA"',
                'signature="AAAA"', "", ",,,,", "keyId" * 1000])
        elif choice == 6:
            for _ in range(rng.randrange(2, 40)):
                headers.add("Signature", f'keyId="{key_id}",signature="AAAA"')
        elif choice == 7:
            headers["Signature-Input"] = rng.choice([
                f'sig1=("@method" "@target-uri" "content-digest");created={int(time.time())};'
                f'keyid="{key_id}"', "sig1=", "sig1=(", 'sig1=("@method";x)', "a" * 5000,
                f'sig1=();keyid="{key_id}";created=1', "sig1=?1", 'sig1=("\\"")'])
            headers["Signature"] = rng.choice(["sig1=:AAAA:", "sig1=:!!:", "sig1=1", ""])
        elif choice == 8:
            headers["Date"] = rng.choice(["yesterday", "Mon, 99 Foo 99999 99:99:99 GMT",
                                          "Fri, 31 Dec 9999 23:59:59 -2359", "0", "\u00e9",
                                          "Thu, 01 Jan 1970 00:00:00 GMT", "x" * 7000])
            headers["Signature"] = (f'keyId="{garbage_key}",headers="(request-target) date '
                                    f'digest",signature="AAAA"')
        elif choice == 9:
            headers["Digest"] = rng.choice(["SHA-256=", "SHA-256=!!!", "=", "MD5=x",
                                            "SHA-256=" + "A" * 6000, ",,,"])
            headers["Content-Digest"] = rng.choice(["sha-256=:x:", "sha-256=", "(((", "a=?1"])
            headers["Signature"] = f'keyId="{garbage_key}",signature="AAAA"'
        elif choice == 10:
            for i in range(rng.randrange(10, 100)):
                headers[f"X-Junk-{i}"] = "y" * rng.randrange(1, 200)
        elif choice == 11:
            headers["X-Long"] = "z" * rng.choice([7000, 8100, 9000, 20_000])
        elif choice == 12:
            headers["Accept"] = rng.choice(["", "*/*;q=x", "text/html," * 500])
            headers["Content-Length-Extra"] = "1"
        else:
            headers["Host"] = rng.choice(["", "[::1", "a..b", "x" * 300, "127.0.0.1:99999"])
        case.body = body
        return case

    def as2_unsigned(self, case: Case) -> Case:
        rng = self.rng
        document: Any = self.envelope(case, actor=rng.choice(
            [self.alice, self.mallory, f"{self.remote.base}/users/ghost", self.keyhole + "/u"]),
            kind=self.kind(), obj=self.value())
        mutation = rng.randrange(9)
        if mutation == 0:
            document.pop(rng.choice(["id", "type", "actor"]))
        elif mutation == 1:
            document[rng.choice(["id", "actor"])] = self.any_url()
        elif mutation == 2:
            document["type"] = rng.choice([7, None, {"a": 1}, [], [3, 4], True, 1.5])
        elif mutation == 3:
            document["actor"] = rng.choice([[self.alice], {"id": self.alice}, {"id": 5}])
        elif mutation == 4:
            # A Delete of itself by an actor we never knew is answered 202 unsigned.
            actor = f"{self.remote.base}/users/gone-{case.token}"
            document = {"id": f"{actor}#delete", "type": "Delete", "actor": actor,
                        "object": actor, "summary": case.token}
        elif mutation == 5:
            document["id"] = f"{self.keyhole}/activities/{case.token}"
        elif mutation == 6:
            document["to"] = self.audience()
        elif mutation == 7:
            document = [document, document]
        case.body = json.dumps(document, ensure_ascii=rng.random() < 0.5).encode()
        case.path = rng.choice(["/inbox", "/actors/dublin/inbox", "/actors/nobody/inbox",
                                "/actor/inbox", "/actors/DUBLIN/inbox", "/actors/a%2Fb/inbox"])
        return case

    def raw_http(self, case: Case) -> Case:
        rng = self.rng
        body = json.dumps(self.envelope(case)).encode()
        head = b"POST /inbox HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        length = b"Content-Length: %d\r\n" % len(body)
        end = b"Connection: close\r\n\r\n"
        case.raw = rng.choice([
            head + b"Content-Length: 99999999999999999999999\r\n" + end + body,
            head + b"Content-Length: -1\r\n" + end + body,
            head + b"Content-Length: 1e3\r\n" + end + body,
            head + length + length.replace(b": ", b": 1") + end + body,
            head + b"Transfer-Encoding: chunked\r\n" + length + end + body,
            head + b"Transfer-Encoding: chunked\r\n" + end + b"zz\r\n" + body + b"\r\n0\r\n\r\n",
            head + b"Transfer-Encoding: chunked\r\n" + end + b"%x\r\n" % len(body) + body
            + b"\r\n0\r\nX-Trailer: 1\r\n\r\n",
            head + b"Transfer-Encoding: gzip, chunked\r\n" + end + b"0\r\n\r\n",
            head + b"No colon here\r\n" + length + end + body,
            head + b"X-A: a\r\n b\r\n" + length + end + body,
            head + b"X-Nul: a\x00b\r\n" + length + end + body,
            head + b"Signature: keyId=\"\xff\xfe\",signature=\"AAAA\"\r\n" + length + end + body,
            b"POST /inbox" + b"/x" * 5000 + b" HTTP/1.1\r\nHost: x\r\n" + length + end + body,
            b"POST /inbox HTTP/1.0\r\n" + length + b"\r\n" + body,
            b"POST /inbox HTTP/9.9\r\nHost: x\r\n" + length + end + body,
            b"PO\x00ST /inbox HTTP/1.1\r\nHost: x\r\n" + length + end + body,
        ])
        return case

    def signed(self, case: Case) -> Case:
        rng = self.rng
        relayed = rng.random() < 0.1
        actor = self.mallory if relayed else self.alice
        kind = rng.choice(["Follow", "Like", "Announce", "Create", "Create", "Update",
                           "Undo", "Delete", "Accept", "Reject", "Join", "Leave", "Block",
                           "Create", "Flag", "Move", "Add", self.kind()])
        obj: Any
        if kind in ("Create", "Update"):
            roll = rng.random()
            if roll < 0.55:
                obj = self.note(case.token, actor)
            elif roll < 0.7:
                obj = [self.note(f"{case.token}-{i}", actor)
                       for i in range(rng.choice([0, 1, 2, 5, 51]))]
            elif roll < 0.8:
                obj = rng.choice(self.served)
            elif roll < 0.85 and not relayed:
                obj = {"id": self.alice, "type": "Person", "inbox": f"{self.alice}/inbox",
                       "name": self.text()[:100], "publicKey": self.remote_key()}
            else:
                obj = self.value()
        elif kind == "Undo":
            obj = rng.choice([
                {"type": rng.choice(["Follow", "Like", "Announce", "Block", "Join", 5]),
                 "id": f"{actor}/x/{case.token}", "actor": rng.choice([actor, self.any_url()]),
                 "object": self.any_url()},
                self.any_url(), self.value()])
        elif kind == "Announce":
            obj = rng.choice([self.any_url(), self.note(case.token, actor), self.value()])
        elif kind == "Delete":
            obj = rng.choice([self.any_url(), {"id": f"{actor}/notes/x", "type": "Tombstone"},
                              self.value()])
        elif kind == "Add":
            # Tallies of a decision passed up: made-up, unproven or badly proven ones.
            obj = [self.note(f"{case.token}-{i}", actor) | {"type": "Tally"}
                   for i in range(rng.choice([1, 1, 2, 3]))] if rng.random() < 0.9 else [
                {"id": f"{actor}/tallies/{case.token}-{i}", "type": "Tally",
                 "attributedTo": actor} for i in range(501)]
        else:
            # fetchable: a type such as ["Create", "Note"] reads as a Create
            obj = rng.choice([f"{self.node}/actors/dublin", self.fetchable_url(), self.value()])
        document = self.envelope(case, actor=actor, kind=kind, obj=obj)
        if kind == "Add":
            document["target"] = rng.choice([self.any_url(), f"{self.node}/objects/{'a' * 32}"])
        if rng.random() < 0.5:
            for name in ("to", "cc", "bto", "audience"):
                if rng.random() < 0.5:
                    document[name] = self.audience()
        if rng.random() < 0.1:
            document["@context"] = self.value()
        case.body = json.dumps(document, ensure_ascii=rng.random() < 0.5).encode()
        case.path = rng.choice(["/inbox", "/inbox", "/actors/dublin/inbox"])
        case.signed = case.may_store = True
        self.sign(case, self.remote.key("alice"))
        return case

    def remote_key(self) -> dict[str, Any]:
        return {"id": f"{self.alice}#main-key", "owner": self.alice,
                "publicKeyPem": public_pem(KEYS["alice"])}

    def signed_broken(self, case: Case) -> Case:
        rng = self.rng
        body = json.dumps(self.envelope(case, kind=self.kind())).encode()
        case.body, case.signed = body, True
        broken = rng.randrange(6)
        case.kind = f"signed_broken/{broken}"
        if broken == 0:  # signed, then the body changed
            self.sign(case, self.remote.key("alice"))
            case.body = body.replace(b'"summary"', b'"summary2"')
        elif broken == 1:  # another actor's key
            self.sign(case, self.remote.key("mallory"))
        elif broken == 2:  # an hour and a half old
            self.sign(case, self.remote.key("alice"), age=5400)
        elif broken == 3:  # signed for another inbox
            self.sign(case, self.remote.key("alice"), path="/actors/dublin/inbox")
            case.path = "/inbox"
        elif broken == 4:  # the right key id, someone else's private key
            self.sign(case, SigningKey(f"{self.alice}#main-key",
                                       self.remote.key("mallory").private_key))
        else:  # a list of covered fields that leaves out what must be covered
            self.sign(case, self.remote.key("alice"))
            if "Signature-Input" in case.headers:
                case.headers["Signature-Input"] = case.headers["Signature-Input"].replace(
                    ' "content-digest"', "")
            else:
                case.headers["Signature"] = case.headers["Signature"].replace(
                    " digest", "").replace(" date", "")
        return case

    def sign(self, case: Case, key: SigningKey, age: float = 0, path: str | None = None) -> None:
        content_type = self.rng.choice([AS2, AS2, "application/ld+json; profile="
                                        '"https://www.w3.org/ns/activitystreams"'])
        case.headers["Content-Type"] = content_type
        scheme = CAVAGE if self.rng.random() < 0.8 else RFC9421
        url = f"{self.node}{path or case.path}"
        now = datetime.now(UTC) - timedelta(seconds=age)
        case.headers.update(sign_request(scheme, "POST", url, {"Content-Type": content_type},
                                         case.body, key, now=now))


async def send(session: ClientSession, node: Node, case: Case) -> tuple[int | str, str]:
    """The status (or the name of the error that stood in for an answer) and the answer's
    beginning."""
    try:
        if case.raw is not None:
            return await send_raw(node, case.raw), ""
        body: Any = case.body
        if case.chunked:
            async def pieces() -> AsyncIterator[bytes]:
                for i in range(0, len(case.body), 7):
                    yield case.body[i:i + 7]
            body = pieces()
        skip = ("Content-Type",) if case.no_content_type else ()
        headers = CIMultiDict(case.headers)
        if not case.no_content_type and "Content-Type" not in headers:
            headers["Content-Type"] = AS2
        async with session.post(f"{node.base}{case.path}", data=body, headers=headers,
                                skip_auto_headers=skip) as response:
            answer = await response.read()
            return response.status, answer[:300].decode("utf-8", "replace")
    except (ClientError, OSError, TimeoutError) as exc:
        return type(exc).__name__, str(exc)[:300]


async def send_raw(node: Node, data: bytes) -> int | str:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return int(match.group(1)) if match else f"no status line: {answer[:40]!r}"


def tokens_in_database(node: Node) -> set[str]:
    found: set[str] = set()
    for table in table_names(node):
        for row in node.sql(f'SELECT * FROM "{table}"'):
            for value in row:
                if isinstance(value, str):
                    found.update(TOKEN.findall(value))
    return found


async def test_ten_thousand_malformed_requests(
    inbox_node: Node, remote: Remote, keyhole: tuple[str, Counter[str]]
) -> None:
    started = time.perf_counter()
    keyhole_base, keyhole_hits = keyhole
    fuzzer = Fuzzer(random.Random(SEED), inbox_node, remote, keyhole_base)
    cases = [fuzzer.case(n) for n in range(TOTAL)]
    built = time.perf_counter() - started
    local_before = row_counts(inbox_node, LOCAL_TABLES)
    tokens_before = tokens_in_database(inbox_node)
    assert not tokens_before

    results: dict[int, int | str] = {}
    answers: dict[int, str] = {}
    limit = asyncio.Semaphore(CONCURRENCY)
    timeout = ClientTimeout(total=60)
    async with ClientSession(connector=TCPConnector(limit=CONCURRENCY),
                             timeout=timeout) as session:
        async def one(case: Case) -> None:
            async with limit:
                results[case.n], answers[case.n] = await send(session, inbox_node, case)

        await asyncio.gather(*(one(case) for case in cases))
    sent = time.perf_counter() - started

    by_status = Counter(results.values())
    by_kind: dict[str, Counter[int | str]] = {}
    for case in cases:
        by_kind.setdefault(case.kind, Counter())[results[case.n]] += 1
    signed = sum(case.signed for case in cases)
    stored = tokens_in_database(inbox_node)
    accepted = {case.token for case in cases if results[case.n] in (200, 201, 202)}
    deep = {case.token for case in cases if case.may_store and results[case.n] == 202}
    print(f"\nfuzz: {len(cases)} requests ({signed} signed) in {sent:.1f} s"
          f" (built in {built:.1f} s), {CONCURRENCY} at a time, seed {SEED}")
    print("fuzz: by status", dict(sorted(by_status.items(), key=str)))
    for kind, statuses in sorted(by_kind.items()):
        print(f"fuzz:   {kind:15} {sum(statuses.values()):5}",
              dict(sorted(statuses.items(), key=str)))
    print(f"fuzz: {len(deep)} signed activities accepted, {len(stored)} tokens stored,"
          f" {sum(keyhole_hits.values())} fetches of made-up key ids")

    failed = [case for case in cases
              if not isinstance(results[case.n], int) or int(results[case.n]) >= 500]
    for case in failed[:5]:
        print(f"fuzz: FAILED {case.kind} #{case.n} {case.path} {results[case.n]}"
              f" {answers[case.n]!r}\n  headers {dict(case.headers)!r}\n"
              f"  body {(case.raw or case.body)[:600]!r}")
    assert not failed, Counter(results[case.n] for case in failed)
    log = inbox_node.log()
    assert "request failed" not in log and "Unhandled exception" not in log
    if inbox_node.engine == "sqlite":
        assert inbox_node.sql("PRAGMA integrity_check") == [("ok",)]
    assert row_counts(inbox_node, LOCAL_TABLES) == local_before
    refused = {case.token for case in cases} - accepted
    assert not stored & refused, sorted(stored & refused)[:10]
    # Only what a signer sent about itself and was accepted left anything behind (an
    # unsigned Delete of an unknown actor is accepted and leaves nothing).
    assert stored <= deep, sorted(stored - deep)[:10]
    # The signed share went deep: many were accepted and recorded.
    assert signed >= 1000 and len(deep) >= 1000
    recorded = {found.group() for (iri,) in inbox_node.sql("SELECT iri FROM inbox_activities")
                if (found := TOKEN.search(iri))}
    assert len(recorded) >= 1000
