"""Publishing each kind of item from the CLI: what is stored, what goes on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from federation import jsonld
from tests.federation.test_jsonld_documents import expanded_properties, key_paths
from tests.nodes import Node

AS2 = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
LATER = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("items"))
    assert node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                    "--level", "local").returncode == 0
    assert node.cli("member", "add", "ana", "--chapter", "dublin").returncode == 0
    node.start()
    yield node
    node.stop()


def publish(node: Node, *args: str, stdin: str = "") -> dict[str, Any]:
    result = node.cli("post", *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    item_id = result.stdout.strip()
    assert item_id.startswith(f"{node.base}/objects/"), result.stdout
    response = node.get(item_id.removeprefix(node.base), accept=AS2)
    assert response.status == 200
    return response.json()


def assert_expands_fully(document: dict[str, Any]) -> None:
    expanded = jsonld.expand(document)
    undefined = sorted(p for p in expanded_properties(expanded) if p.startswith("_:"))
    assert undefined == []
    assert key_paths(jsonld.compact(expanded, document["@context"])) == key_paths(document)


def test_news_is_an_article_with_a_summary_from_its_markdown(node: Node) -> None:
    body = "# Bookfair\n\nWe had **forty** visitors. <script>x()</script>\n\n" + "word " * 100
    doc = publish(node, "news", "--chapter", "dublin", "--title", "Bookfair report",
                  stdin=body)
    assert doc["type"] == "Article"
    assert doc["name"] == "Bookfair report"
    assert doc["attributedTo"] == f"{node.base}/actors/dublin"
    assert "<strong>forty</strong>" in doc["content"] and "<script>" not in doc["content"]
    assert doc["summary"].startswith("Bookfair We had forty visitors.")
    assert doc["summary"].endswith("…") and len(doc["summary"]) <= 281
    assert doc["tag"] == [{"type": "Hashtag", "name": "#news"}]
    assert doc["to"] == [PUBLIC] and doc["cc"] == [f"{node.base}/actors/dublin/followers"]
    assert_expands_fully(doc)
    replies = node.get(doc["replies"].removeprefix(node.base), accept=AS2).json()
    assert replies["type"] == "OrderedCollection" and replies["totalItems"] == 0
    assert_expands_fully(replies)
    outbox = node.get("/actors/dublin/outbox?page=1", accept=AS2).json()["orderedItems"]
    assert outbox[0]["type"] == "Create" and outbox[0]["object"]["id"] == doc["id"]
    assert_expands_fully(outbox[0])


def test_minutes_carry_the_meeting_date_and_a_hashtag(node: Node, tmp_path: Any) -> None:
    body_file = tmp_path / "minutes.md"
    body_file.write_text("Present: 12.\n\n1. Bookfair\n2. Banners\n")
    doc = publish(node, "minutes", "--chapter", "dublin", "--title", "Minutes from Aug meeting",
                  "--meeting-date", "2026-08-12", "--body-file", str(body_file),
                  "--summary", "Decisions on the bookfair and banners.")
    assert doc["meetingDate"] == "2026-08-12"
    assert doc["tag"] == [{"type": "Hashtag", "name": "#minutes"}]
    assert doc["summary"] == "Decisions on the bookfair and banners."
    assert "<ol>" in doc["content"]
    assert_expands_fully(doc)


def test_a_member_blogs(node: Node) -> None:
    doc = publish(node, "blog", "--member", "ana", "--title", "Why I joined", stdin="Because.")
    assert doc["attributedTo"] == f"{node.base}/actors/ana"
    assert doc["summary"] == "Because."


def test_an_event_has_what_mobilizon_reads(node: Node) -> None:
    doc = publish(node, "event", "--chapter", "dublin", "--title", "Autumn assembly",
                  "--start", "2026-12-05T14:00", "--end", "2026-12-05T17:00",
                  "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club",
                  "--address", "36 Parnell Square, Dublin", "--capacity", "40")
    assert doc["type"] == "Event"
    assert doc["startTime"] == "2026-12-05T14:00:00+00:00"
    assert doc["endTime"] == "2026-12-05T17:00:00+00:00"
    assert doc["timezone"] == "Europe/Dublin"
    assert doc["location"] == {"type": "Place", "name": "Teachers' Club", "address": {
        "type": "PostalAddress", "streetAddress": "36 Parnell Square, Dublin"}}
    assert doc["joinMode"] == "free"
    assert doc["participantCount"] == 0
    assert doc["maximumAttendeeCapacity"] == 40 and doc["remainingAttendeeCapacity"] == 40
    assert doc["isOnline"] is False
    assert "Saturday 5 December 2026, 14:00" in doc["summary"]
    assert "Teachers&#39; Club" in doc["content"] or "Teachers' Club" in doc["content"]
    assert_expands_fully(doc)


def test_an_online_event_links_its_stream(node: Node) -> None:
    doc = publish(node, "event", "--chapter", "dublin", "--title", "Online assembly",
                  "--start", "2026-12-06T18:00:00-05:00", "--timezone", "America/New_York",
                  "--online-url", "https://meet.example/iops")
    assert doc["isOnline"] is True and "location" not in doc
    assert doc["attachment"] == [{"type": "Link", "name": "Website",
                                  "href": "https://meet.example/iops",
                                  "mediaType": "text/html"}]


def test_a_poll_is_a_question_as_mastodon_writes_it(node: Node) -> None:
    doc = publish(node, "poll", "--chapter", "dublin", "--question", "Which date?",
                  "--option", "12 September", "--option", "19 September", "--closes", LATER)
    assert doc["type"] == "Question"
    assert doc["content"] == "<p>Which date?</p>"
    assert doc["oneOf"] == [
        {"type": "Note", "name": "12 September", "replies": {"type": "Collection",
                                                             "totalItems": 0}},
        {"type": "Note", "name": "19 September", "replies": {"type": "Collection",
                                                             "totalItems": 0}}]
    assert doc["votersCount"] == 0
    assert doc["endTime"].endswith("Z") and "closed" not in doc
    assert_expands_fully(doc)
    multiple = publish(node, "poll", "--chapter", "dublin", "--question", "Which days?",
                       "--option", "Mon", "--option", "Tue", "--multiple", "--closes", LATER)
    assert "anyOf" in multiple and "oneOf" not in multiple


@pytest.mark.parametrize("args,reason", [
    (["poll", "--question", "Q", "--option", "A", "--closes", LATER], "at least two options"),
    (["poll", "--question", "Q", "--option", "A", "--option", "A", "--closes", LATER],
     "differ"),
    (["poll", "--question", "Q", "--option", "A", "--option", "B",
      "--closes", "2020-01-01T00:00:00+00:00"], "in the past"),
    (["poll", "--question", "Q", "--option", "A", "--option", "B", "--closes", "soon"],
     "ISO 8601"),
    (["event", "--title", "E", "--start", "2026-12-05T14:00", "--end", "2026-12-05T13:00",
      "--timezone", "Europe/Dublin", "--place-name", "P"], "end must be after"),
    (["event", "--title", "E", "--start", "2026-12-05T14:00", "--timezone", "Mars/Olympus",
      "--place-name", "P"], "unknown time zone"),
    (["event", "--title", "E", "--start", "2026-12-05T14:00", "--timezone", "Europe/Dublin"],
     "place name or an online URL"),
    (["event", "--title", "E", "--start", "2026-12-05T14:00", "--timezone", "Europe/Dublin",
      "--online-url", "javascript:alert(1)"], "http(s)"),
    (["news", "--title", "  "], "title must not be empty"),
    (["minutes", "--title", "M", "--meeting-date", "12/08/2026"], "YYYY-MM-DD"),
    (["minutes", "--title", "M", "--meeting-date", "2026-02-30"],
     "meeting date 2026-02-30 is not a date: day is out of range for month"),
])
def test_bad_items_are_refused_and_nothing_is_stored(
    node: Node, args: list[str], reason: str
) -> None:
    before = node.sql("SELECT count(*) FROM items")
    result = node.cli("post", *args, "--chapter", "dublin")
    assert result.returncode == 2, result.stdout
    assert reason in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert node.sql("SELECT count(*) FROM items") == before


def test_edit_sends_an_update_and_delete_a_tombstone(node: Node, tmp_path: Any) -> None:
    doc = publish(node, "news", "--chapter", "dublin", "--title", "Typo in titel",
                  stdin="Body.")
    result = node.cli("edit", doc["id"], "--title", "Typo in title")
    assert result.returncode == 0, result.stderr
    edited = node.get(doc["id"].removeprefix(node.base), accept=AS2).json()
    assert edited["name"] == "Typo in title" and edited["updated"] >= edited["published"]
    (update,) = node.sql("SELECT document FROM activities WHERE iri = ?", result.stdout.strip())
    update_doc = json.loads(update[0])
    assert update_doc["type"] == "Update" and update_doc["object"]["name"] == "Typo in title"
    nothing = node.cli("edit", doc["id"])
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    assert node.cli("delete", doc["id"]).returncode == 0
    assert node.get(doc["id"].removeprefix(node.base), accept=AS2).status == 410
    again = node.cli("edit", doc["id"], "--title", "x")
    assert again.returncode == 2 and "was deleted" in again.stderr
    missing = node.cli("delete", f"{node.base}/objects/{'0' * 32}")
    assert missing.returncode == 2
