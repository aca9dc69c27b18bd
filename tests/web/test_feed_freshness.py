"""Feeds are kept as written between commits: what is published shows in the next fetch."""

from __future__ import annotations

from tests.nodes import Node


def test_a_feed_kept_as_written_still_shows_what_was_published_since(node: Node) -> None:
    calendar, feed = "/actors/cork/events.ics", "/actors/cork/feed.atom"
    before_calendar, before_feed = node.get(calendar).text, node.get(feed).text
    assert node.get(calendar).text == before_calendar  # nothing changed: the same bytes
    assert "Harbour clean-up" not in before_calendar + before_feed
    event = node.cli("post", "event", "--chapter", "cork", "--title", "Harbour clean-up",
                     "--start", "2031-05-10T10:00", "--timezone", "Europe/Dublin",
                     "--place-name", "The quay")
    assert event.returncode == 0, event.stderr
    assert "Harbour clean-up" in node.get(calendar).text
    assert "Harbour clean-up" in node.get(feed).text
