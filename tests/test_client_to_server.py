"""ActivityPub client-to-server with a personal access token, between two real nodes: a
chapter secretary's script posts minutes to the chapter's outbox and they arrive at a
follower on another node; a revoked token gets 401, a token of another chapter's member
403, an invalid item 422, and none of these sends anything."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.member_browser import Browser
from tests.nodes import Node, request, wait_for

AS2 = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """Node A: dublin (organised by ana) and cork (cian, its organiser). Node B: bob of
    galway, who follows dublin and ana."""
    root = tmp_path_factory.mktemp("c2s")
    a, b = Node.init(root, "a").federating(), Node.init(root, "b").federating()
    a.chapter("dublin", "IOPS Dublin").chapter("cork", "IOPS Cork")
    b.chapter("galway", "IOPS Galway")
    b.run("member", "add", "bob", "--chapter", "galway")
    secrets = root / "secrets"
    secrets.mkdir()
    for handle, chapter in (("ana", "dublin"), ("cian", "cork")):
        a.run("account", "create", handle, "--chapter", chapter, "--name", handle.title(),
              "--password-file", str(_password(secrets, handle)))
        a.run("chapter", "organisers", "add", chapter, handle)
    a.start()
    b.start()
    for target in ("dublin", "ana"):
        result = b.cli("follow", f"{a.base}/actors/{target}", "--as", "bob")
        assert result.returncode == 0, result.stderr
    wait_for(lambda: b.sql("SELECT count(*) FROM following WHERE state = 'accepted'")
             == [(2,)], what="B's follows to be accepted")
    yield a, b
    a.stop()
    b.stop()


PASSWORD = "a long walk to the bookfair"


def _password(secrets: Path, handle: str) -> Path:
    path = secrets / f"{handle}.password"
    path.write_text(PASSWORD + "\n")
    return path


def logged_in(node: Node, handle: str) -> Browser:
    browser = Browser(node)
    browser.submit("/login", [("username", handle), ("password", PASSWORD), ("next", "/")],
                   page="/login")
    return browser


def new_token(browser: Browser, name: str) -> str:
    """Made on the web, as a member makes one: the page shows it once."""
    page = browser.page("/account/tokens")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    status, _, body = browser.send("POST", "/account/tokens",
                                   [("name", name), ("csrf_token", csrf[1])])
    assert status == 200, body[:500]
    token = re.search(r'id="new-token" class="token" value="([^"]+)"', body)
    assert token, body[:2000]
    return token[1]


def post(node: Node, handle: str, body: bytes | dict[str, Any], token: str | None,
         content_type: str = AS2, **headers: str) -> tuple[int, dict[str, str], Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": content_type, **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    answer = request(f"{node.base}/actors/{handle}/outbox", "POST", sent, data)
    parsed = answer.json() if answer.content_type.startswith("application/json") else None
    return answer.status, answer.headers, parsed


def minutes(title: str, meeting_date: str = "2026-11-24") -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Create",
        "object": {
            "type": "Article",
            "name": title,
            "meetingDate": meeting_date,
            "source": {"content": "Present: *seven*.\n\n1. Bookfair agreed.",
                       "mediaType": "text/markdown"},
        },
    }


def documented_example() -> dict[str, Any]:
    """The body of FEDERATION.md's curl example."""
    text = (Path(__file__).resolve().parent.parent / "FEDERATION.md").read_text("utf-8")
    section = text.split("## Client-to-server", 1)[1]
    body = section.split("<<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0]
    example: dict[str, Any] = json.loads(body)
    return example


def at_b(b: Node) -> list[tuple[Any, ...]]:
    return b.sql("SELECT iri, attributed_to, type FROM remote_objects ORDER BY iri")


def sent_by_a(a: Node) -> list[tuple[Any, ...]]:
    return a.sql("SELECT id FROM activities ORDER BY id")


def test_a_script_posts_minutes_with_a_token_and_the_follower_gets_them(
        nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    token = new_token(logged_in(a, "ana"), "minutes script")
    document = documented_example()
    assert document["object"]["meetingDate"] == "2026-11-24"
    # A client's id, author and date are not taken: the server assigns them.
    document["object"] |= {"id": "https://evil.example/x", "published": "2001-01-01T00:00:00Z"}
    # Posted where the actor document says its outbox is.
    assert a.get("/actors/dublin", accept=AS2).json()["outbox"] == f"{a.base}/actors/dublin/outbox"
    status, headers, answer = post(a, "dublin", document, token)
    assert status == 201, answer
    location = headers["location"]
    assert location.startswith(f"{a.base}/activities/") and answer["id"] == location
    create = a.get(location.removeprefix(a.base), accept=AS2).json()
    assert create["type"] == "Create" and create["actor"] == f"{a.base}/actors/dublin"
    article = create["object"]
    assert article["id"] == answer["object"] and article["id"].startswith(f"{a.base}/objects/")
    assert article["attributedTo"] == f"{a.base}/actors/dublin"
    assert article["published"] != "2001-01-01T00:00:00Z"
    assert article["meetingDate"] == "2026-11-24"
    assert {"type": "Hashtag", "name": "#minutes"} in article["tag"]
    assert "<li>The bookfair is on.</li>" in article["content"]

    rows = wait_for(lambda: [r for r in at_b(b) if r[0] == article["id"]],
                    what="the minutes at the follower's node")
    assert rows == [(article["id"], f"{a.base}/actors/dublin", "Article")]
    # Used just now, as the tokens page says.
    assert a.sql("SELECT last_used_at IS NOT NULL FROM access_tokens") in ([(1,)], [(True,)])


def test_a_member_posts_on_their_own_blog_as_a_bare_object(
        nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    token = new_token(logged_in(a, "ana"), "blog script")
    status, _, answer = post(a, "ana", {
        "type": "Article", "name": "Why I organise", "content": "Because *we* can.",
    }, token, content_type=LD)
    assert status == 201, answer
    article = a.get(answer["object"].removeprefix(a.base), accept=AS2).json()
    assert article["attributedTo"] == f"{a.base}/actors/ana"
    assert {"type": "Hashtag", "name": "#blog"} in article["tag"]
    # Plain content: shown as written, not read as Markdown.
    assert "*we*" in article["content"] and "<em>" not in article["content"]
    wait_for(lambda: [r for r in at_b(b) if r[0] == article["id"]], what="the blog post at B")
    # A note, too.
    status, _, answer = post(a, "ana", {"type": "Create", "object": {
        "type": "Note", "content": "See you Saturday."}}, token)
    assert status == 201, answer


def test_a_token_acts_with_its_accounts_rights_only(nodes: tuple[Node, Node]) -> None:
    a, _ = nodes
    cian = new_token(logged_in(a, "cian"), "cork script")
    before = sent_by_a(a)
    # cian organises cork, not dublin, and is not ana.
    for handle in ("dublin", "ana"):
        status, _, answer = post(a, handle, minutes("Not cian's to post"), cian)
        assert status == 403, answer
        assert "cian may not publish as" in answer["error"]
    # ana is a member, and members publish blog posts and notes, not news.
    ana = new_token(logged_in(a, "ana"), "news script")
    status, _, answer = post(a, "ana", {"type": "Article", "name": "News?",
                                        "tag": [{"type": "Hashtag", "name": "#news"}]}, ana)
    assert status == 403 and "published by a chapter" in answer["error"]
    # And cian may post for cork.
    status, _, answer = post(a, "cork", {"type": "Note", "content": "Cork says hello."}, cian)
    assert status == 201, answer
    assert len(sent_by_a(a)) == len(before) + 1


def test_no_unknown_or_revoked_token_gets_401(nodes: tuple[Node, Node]) -> None:
    a, _ = nodes
    browser = logged_in(a, "ana")
    token = new_token(browser, "to revoke")
    before = sent_by_a(a)
    status, headers, answer = post(a, "dublin", minutes("No token"), None)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    status, headers, answer = post(a, "dublin", minutes("Wrong token"), "x" * 43)
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    # A browser's session cookie publishes nothing here, with or without our origin.
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    status, headers, answer = post(a, "dublin", minutes("Cookie only"), None,
                                   Cookie=cookie, Origin=a.base)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")

    (token_id,) = a.sql("SELECT id FROM access_tokens WHERE name = 'to revoke'")[0]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.page("/account/tokens"))
    assert csrf
    status, _, _ = browser.send("POST", f"/account/tokens/{token_id}/revoke",
                                [("csrf_token", csrf[1])])
    assert status == 303
    status, headers, answer = post(a, "dublin", minutes("Revoked"), token)
    assert status == 401 and answer["error"] == "this token is unknown or revoked"
    assert sent_by_a(a) == before


def test_an_invalid_item_is_refused_and_nothing_is_sent(nodes: tuple[Node, Node]) -> None:
    a, _ = nodes
    token = new_token(logged_in(a, "ana"), "careless script")
    before = sent_by_a(a)
    cases: list[tuple[bytes | dict[str, Any], str, int, str]] = [
        (minutes("Bad date", "2026-02-30"), AS2, 422,
         "meeting date 2026-02-30 is not a date: day is out of range for month"),
        (minutes(""), AS2, 422, "title must not be empty"),
        ({"type": "Event", "name": "Bookfair", "startTime": "2030-09-12T14:00",
          "timezone": "Mars/Olympus", "location": {"type": "Place", "name": "Club"}}, AS2, 422,
         "unknown time zone 'Mars/Olympus' (use e.g. Europe/Dublin)"),
        ({"type": "Question", "name": "Tuesdays?", "oneOf": [{"name": "Yes"}],
          "endTime": "2030-01-01T00:00:00Z"}, AS2, 422, "a poll needs at least two options"),
        ({"type": "Like", "object": "https://x.example/1"}, AS2, 400, "not 'Like'"),
        (b'{"type": "Note", "content": "a", "content": "b"}', AS2, 400, "not JSON we take"),
        (b"not json", AS2, 400, "not JSON we take"),
        (b"[1, 2]", AS2, 400, "must be a JSON object"),
        ({"type": "Note", "content": "<p>hi</p>", "mediaType": "text/html"}, AS2, 400,
         "plain text only"),
        ({"type": "Note", "content": "hi"}, "text/plain", 415, "application/activity+json"),
        ({"type": "Create", "actor": f"{a.base}/actors/cork",
          "object": {"type": "Note", "content": "hi"}}, AS2, 400, "this outbox's actor"),
    ]
    for body, content_type, status, reason in cases:
        got, _, answer = post(a, "dublin", body, token, content_type=content_type)
        assert (got, reason in answer["error"]) == (status, True), (body, answer)
    assert sent_by_a(a) == before
    # Oversized: refused before it is read.
    big = {"type": "Note", "content": "x" * (2 * 1024 * 1024)}
    got, _, _ = post(a, "dublin", big, token)
    assert got == 413
    assert sent_by_a(a) == before
    assert a.sql("SELECT count(*) FROM deliveries WHERE activity_id > ?", before[-1][0]) \
        == [(0,)]
