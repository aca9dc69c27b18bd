"""Fedify receives one item of each kind from a chapter it follows, and we assert on what
Fedify parsed; then it votes in the chapter's poll and sees the new totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify

LATER = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@pytest.fixture(scope="module")
def following(fedify: Fedify, chapter_node: Node) -> Node:
    fedify.post("/_control/follow", {"target": f"{chapter_node.base}/actors/dublin"})
    wait_for(lambda: fedify.received("Accept"), what="the Accept")
    return chapter_node


def delivered(fedify: Fedify, node: Node, *args: str, stdin: str = "") -> dict[str, Any]:
    result = node.cli("post", *args, "--chapter", "dublin", stdin=stdin)
    assert result.returncode == 0, result.stderr
    item_id = result.stdout.strip()
    [create] = wait_for(lambda: [c for c in fedify.received("Create")
                                 if c["objectId"] == item_id], what=f"Fedify to get {item_id}")
    assert create["verifiedBy"]["method"] == "http-signature"
    return create["objectParsed"]


@pytest.mark.parametrize("kind", ["news", "blog"])
def test_news_and_blog_posts_as_fedify_reads_them(
    fedify: Fedify, following: Node, kind: str
) -> None:
    parsed = delivered(fedify, following, kind, "--title", f"A {kind} item",
                       "--summary", "What Mastodon shows.", stdin="The *whole* story.")
    assert parsed["type"] == "Article"
    assert parsed["name"] == f"A {kind} item"
    assert parsed["summary"] == "What Mastodon shows."
    assert parsed["content"] == "<p>The <em>whole</em> story.</p>"
    assert parsed["tagNames"] == [f"#{kind}"]


def test_an_article_as_fedify_reads_it(fedify: Fedify, following: Node) -> None:
    parsed = delivered(fedify, following, "minutes", "--title", "Minutes from Aug meeting",
                       "--meeting-date", "2026-08-12", stdin="1. Bookfair\n2. Banners\n")
    assert parsed["type"] == "Article"
    assert parsed["name"] == "Minutes from Aug meeting"
    assert parsed["summary"] == "Bookfair Banners"
    assert "<li>Bookfair</li>" in parsed["content"]
    assert parsed["tagNames"] == ["#minutes"]
    assert parsed["attributedTo"] == f"{following.base}/actors/dublin"


def test_an_event_as_fedify_reads_it(fedify: Fedify, following: Node) -> None:
    parsed = delivered(fedify, following, "event", "--title", "Autumn assembly",
                       "--start", "2026-12-05T14:00", "--end", "2026-12-05T17:00",
                       "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club",
                       "--address", "36 Parnell Square")
    assert parsed["type"] == "Event"
    assert parsed["name"] == "Autumn assembly"
    assert parsed["startTime"] == "2026-12-05T14:00:00Z"
    assert parsed["endTime"] == "2026-12-05T17:00:00Z"
    assert parsed["location"]["name"] == "Teachers' Club"
    assert "Saturday 5 December 2026, 14:00" in parsed["summary"]


def test_a_poll_fedify_votes_in(fedify: Fedify, following: Node) -> None:
    parsed = delivered(fedify, following, "poll", "--question", "Which date?",
                       "--option", "12 September", "--option", "19 September",
                       "--closes", LATER)
    assert parsed["type"] == "Question"
    assert [(o["name"], o["totalItems"]) for o in parsed["exclusiveOptions"]] == [
        ("12 September", 0), ("19 September", 0)]
    question = parsed["id"]
    fedify.post("/_control/reset", {"signatureSpecs": True})
    vote = fedify.post("/_control/vote", {"question": question, "choices": ["19 September"]})
    assert vote["ok"] and vote["status"] == [202], vote
    looked_up = fedify.get(f"/_control/lookup?url={question}")
    assert [(o["name"], o["totalItems"]) for o in looked_up["exclusiveOptions"]] == [
        ("12 September", 0), ("19 September", 1)]
    assert looked_up["voters"] == 1
    # The totals also arrive by Update, which Fedify verifies and parses.
    updates = wait_for(lambda: [u for u in fedify.received("Update")
                                if u["objectId"] == question], what="the tally Update")
    options = updates[-1]["objectParsed"]["exclusiveOptions"]
    assert [o["totalItems"] for o in options] == [0, 1]
