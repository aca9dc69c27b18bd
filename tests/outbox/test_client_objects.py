"""What a script posts to an outbox becomes the item the forms and the CLI would make."""

from __future__ import annotations

from typing import Any

import pytest

from outbox.client_objects import (
    ClientObjectError,
    NotAllowed,
    plain_markdown,
    to_item,
    unwrap,
)
from outbox.items import Item, body_html, validate

ACTOR = "https://node.example/actors/dublin"


def item_of(document: dict[str, Any], is_chapter: bool = True) -> Item:
    posted = to_item(unwrap(document, ACTOR), is_chapter)
    assert posted.item is not None
    return validate(posted.item)


def test_an_event_with_a_place_and_an_address() -> None:
    item = item_of({"type": "Create", "actor": ACTOR, "object": {
        "type": "Event", "name": "Autumn bookfair", "summary": "Books and tea.",
        "startTime": "2030-09-12T14:00", "endTime": "2030-09-12T17:30",
        "timezone": "Europe/Dublin", "maximumAttendeeCapacity": 40,
        "location": {"type": "Place", "name": "Teachers' Club",
                     "address": {"type": "PostalAddress", "streetAddress": "36 Parnell Sq"}},
        "source": {"content": "Bring **books**.", "mediaType": "text/markdown"}}})
    assert (item.kind, item.title, item.place_name, item.address, item.capacity) == (
        "event", "Autumn bookfair", "Teachers' Club", "36 Parnell Sq", 40)
    assert item.starts_at == "2030-09-12T14:00:00+01:00" and item.body == "Bring **books**."


def test_an_online_event_and_a_poll_with_several_choices() -> None:
    item = item_of({"type": "Event", "name": "Call", "startTime": "2030-01-05T19:00Z",
                    "timezone": "UTC", "attachment": [
                        {"type": "Link", "href": "https://meet.example/x"}]})
    assert item.online_url == "https://meet.example/x" and item.place_name is None
    poll = item_of({"type": "Question", "content": "Which days?", "anyOf": [
        {"type": "Note", "name": "Tuesday"}, {"type": "Note", "name": "Thursday"}],
        "endTime": "2030-12-01T18:00:00Z"})
    assert (poll.kind, poll.title, poll.options, poll.multiple) == (
        "poll", "Which days?", ["Tuesday", "Thursday"], True)


def test_articles_kind_from_meeting_date_tag_and_author() -> None:
    assert item_of({"type": "Article", "name": "M", "meetingDate": "2026-11-24"}).kind \
        == "minutes"
    assert item_of({"type": "Article", "name": "N"}).kind == "news"
    assert item_of({"type": "Article", "name": "B",
                    "tag": [{"type": "Hashtag", "name": "#blog"}]}).kind == "blog"
    assert item_of({"type": "Article", "name": "B"}, is_chapter=False).kind == "blog"
    for document in ({"type": "Article", "name": "N", "meetingDate": "2026-11-24"},
                     {"type": "Event", "name": "E"}, {"type": "Question", "name": "Q"}):
        with pytest.raises(NotAllowed):
            to_item(unwrap(document, ACTOR), is_chapter=False)
    with pytest.raises(ClientObjectError, match="meetingDate is for minutes"):
        to_item({"type": "Article", "name": "x", "meetingDate": "2026-11-24",
                 "tag": [{"type": "Hashtag", "name": "#news"}]}, True)


def test_plain_text_is_shown_as_written() -> None:
    text = "# not a heading\n1. not a list\n*not em* <b>not bold</b> & [no](link) `no code`"
    html = body_html(plain_markdown(text))
    assert "<h1>" not in html and "<ol>" not in html and "<em>" not in html
    assert "<a " not in html and "<code>" not in html
    assert "# not a heading" in html and "*not em* &lt;b&gt;not bold&lt;/b&gt; &amp;" in html


@pytest.mark.parametrize("document,reason", [
    ({"type": "Article", "name": 3}, "name must be a string"),
    ({"type": "Create", "object": "https://x.example/1"}, "must embed its object"),
    ({"type": "Article", "attributedTo": "https://x.example/u"}, "this outbox's actor"),
    ({"type": "Question", "name": "Q", "oneOf": [{"name": "a"}], "anyOf": []}, "either oneOf"),
    ({"type": "Event", "name": "E", "maximumAttendeeCapacity": "40"}, "whole number"),
    ({"type": "Article", "name": "A", "content": "<p>x</p>", "mediaType": "text/html"},
     "plain text only"),
])
def test_what_is_refused_says_why(document: dict[str, Any], reason: str) -> None:
    with pytest.raises(ClientObjectError, match=reason):
        to_item(unwrap(document, ACTOR), is_chapter=True)
