"""What a member's script posts to an outbox (ActivityPub client-to-server), as an Item.

Taken: a `Create` of an `Article`, `Event`, `Question` or `Note`, or the bare object (which
the server wraps in a Create, as ActivityPub 6.2.1 says). The server assigns `id`,
`attributedTo`, `published` and the audience (public, cc the followers, the parent for
minutes): a client's values of these are not used, and an `actor` or `attributedTo`
naming someone else than the outbox's actor is refused.

Text: a `source` with mediaType `text/markdown` is the Markdown body, as the node's own
forms take it; without one, `content` is plain text (its Markdown characters are kept as
they are). HTML content is refused: the node writes the HTML itself, from Markdown.

Refusals here are `ClientObjectError` (the request is wrong: 400) and `NotAllowed` (a
member's news, minutes, events or polls: 403); the item's rules, those of every form and
the CLI, are outbox.items.validate's (`InvalidItem`: 422). Each says why in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from federation.languages import FIELDS
from outbox.items import MAX_CAPACITY, Item

OBJECT_TYPES = ("Article", "Event", "Question", "Note")
ARTICLE_TAGS = {"#news": "news", "#blog": "blog", "#minutes": "minutes"}
MARKDOWN_TYPES = ("text/markdown", "text/x-markdown")
PLAIN_TYPES = ("text/plain",)
MEMBERS_PUBLISH = ("a member publishes blog posts and notes; news, minutes, events and polls"
                   " are published by a chapter")

# Characters that would make plain text mean something else as Markdown, anywhere in a
# line, and the markers that do so at a line's start (headings, lists, quotes, rules).
_INLINE = re.compile(r"([\\`*_\[\]<>&|~!])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])", re.MULTILINE)


class ClientObjectError(ValueError):
    """A request that is not an object this outbox takes; str() says why."""


class NotAllowed(ValueError):
    """The actor may not publish this kind of item (a member, news); str() says why."""


@dataclass(frozen=True)
class Posted:
    """What to publish: an item, or a note's plain text (`item` is None)."""

    item: Item | None
    note: str = ""
    # The language the client said it is written in (its contentMap's key); None: unsaid.
    language: str | None = None


def plain_markdown(text: str) -> str:
    """Plain text as Markdown that shows exactly that text."""
    return _LINE_START.sub(lambda m: m[1] + "\\" + m[2], _INLINE.sub(r"\\\1", text))


def _string(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ClientObjectError(f"{key} must be a string")
    return value


def _names(value: Any, field: str) -> str | None:
    """The id named by `actor`/`attributedTo`: a string, or an object with an id."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, list) and len(value) == 1:
        return _names(value[0], field)
    if not isinstance(value, str):
        raise ClientObjectError(f"{field} must name one actor")
    return value


def unwrap(document: Any, actor_iri: str) -> dict[str, Any]:
    """The object a Create carries, or the bare object itself."""
    if not isinstance(document, dict):
        raise ClientObjectError("the body must be a JSON object (an activity or an object)")
    kind = document.get("type")
    if kind == "Create":
        actor = _names(document.get("actor"), "actor")
        if actor is not None and actor != actor_iri:
            raise ClientObjectError(f"actor must be this outbox's actor, {actor_iri}")
        obj = document.get("object")
        if isinstance(obj, list) and len(obj) == 1:
            obj = obj[0]
        if not isinstance(obj, dict):
            raise ClientObjectError("a Create must embed its object (one JSON object)")
        document = obj
        kind = document.get("type")
    if kind not in OBJECT_TYPES:
        raise ClientObjectError(
            "this outbox takes a Create of an Article, Event, Question or Note, or the bare"
            f" object; not {kind!r}" if isinstance(kind, str) else
            "the body needs a type: Create, Article, Event, Question or Note")
    author = _names(document.get("attributedTo"), "attributedTo")
    if author is not None and author != actor_iri:
        raise ClientObjectError(f"attributedTo must be this outbox's actor, {actor_iri}")
    return document


def _body(document: dict[str, Any]) -> str:
    """The Markdown body: the Markdown source, or plain `content` kept as it is."""
    source = document.get("source")
    if source is not None:
        if not isinstance(source, dict) or not isinstance(source.get("content"), str):
            raise ClientObjectError("source must be an object with content (Markdown)")
        media_type = source.get("mediaType", "text/markdown")
        if media_type in MARKDOWN_TYPES:
            return str(source["content"])
        if media_type in PLAIN_TYPES:
            return plain_markdown(source["content"])
        raise ClientObjectError("source's mediaType must be text/markdown or text/plain")
    return plain_markdown(_plain_content(document))


def _plain_content(document: dict[str, Any]) -> str:
    content = _string(document, "content") or ""
    media_type = _string(document, "mediaType")
    if content and media_type not in (None, *PLAIN_TYPES):
        raise ClientObjectError(
            "content is taken as plain text only: send Markdown in source"
            " ({\"content\": ..., \"mediaType\": \"text/markdown\"})")
    return content


def _article_kind(document: dict[str, Any], is_chapter: bool) -> str:
    tags = document.get("tag", [])
    tags = tags if isinstance(tags, list) else [tags]
    named = {ARTICLE_TAGS[t["name"].lower()] for t in tags
             if isinstance(t, dict) and t.get("type") == "Hashtag"
             and isinstance(t.get("name"), str) and t["name"].lower() in ARTICLE_TAGS}
    if len(named) > 1:
        raise ClientObjectError("an Article is tagged as one of #news, #blog or #minutes")
    if "meetingDate" in document:
        if named - {"minutes"}:
            raise ClientObjectError("meetingDate is for minutes, not for #"
                                    + next(iter(named)))
        return "minutes"
    if named:
        return named.pop()
    return "news" if is_chapter else "blog"


def _event(document: dict[str, Any], item: Item) -> None:
    item.starts_at = _string(document, "startTime")
    item.ends_at = _string(document, "endTime")
    item.timezone = _string(document, "timezone")
    location = document.get("location")
    if isinstance(location, list) and len(location) == 1:
        location = location[0]
    if location is not None:
        if not isinstance(location, dict):
            raise ClientObjectError("location must be a Place (an object with a name)")
        item.place_name = _string(location, "name")
        address = location.get("address")
        if isinstance(address, dict):
            address = address.get("streetAddress")
        if address is not None and not isinstance(address, str):
            raise ClientObjectError("location's address must be a string or a PostalAddress")
        item.address = address
    links = document.get("attachment", [])
    links = links if isinstance(links, list) else [links]
    online = [a.get("href") for a in links if isinstance(a, dict) and a.get("type") == "Link"]
    if len(online) > 1:
        raise ClientObjectError("an event has one online link (an attachment of type Link)")
    if online:
        if not isinstance(online[0], str):
            raise ClientObjectError("the online link's href must be a URL")
        item.online_url = online[0]
    capacity = document.get("maximumAttendeeCapacity")
    if capacity is not None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) \
                or capacity > MAX_CAPACITY:
            raise ClientObjectError("maximumAttendeeCapacity must be a whole number")
        item.capacity = capacity


def _question(document: dict[str, Any], item: Item) -> None:
    one, anyof = document.get("oneOf"), document.get("anyOf")
    if (one is None) == (anyof is None):
        raise ClientObjectError("a Question has either oneOf or anyOf (its options)")
    options = one if one is not None else anyof
    if not isinstance(options, list):
        raise ClientObjectError("a Question's options must be a list")
    names = []
    for option in options:
        name = option.get("name") if isinstance(option, dict) else None
        if not isinstance(name, str):
            raise ClientObjectError("each option must be an object with a name")
        names.append(name)
    item.options = names
    item.multiple = anyof is not None
    item.closes_at = _string(document, "endTime")


def _language_maps(document: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The document with `content`, `name` and `summary` taken from their maps where only
    a map was sent, and the language the maps name (its primary code: "pt-BR" is "pt").
    We write one language per item, so a map holds one version, and all maps the same."""
    language: str | None = None
    for plain, key in FIELDS.items():
        value = document.get(key)
        if value is None:
            continue
        if (not isinstance(value, dict) or len(value) != 1
                or not all(isinstance(v, str) for v in value.values())):
            raise ClientObjectError(
                f"{key} must hold the text in one language, e.g. {{\"eo\": \"...\"}}")
        tag, text = next(iter(value.items()))
        code = str(tag).split("-", 1)[0].lower()
        if language not in (None, code):
            raise ClientObjectError("contentMap, nameMap and summaryMap must name one language")
        language = code
        if document.get(plain) is None:
            document = {**document, plain: text}
    return document, language


def to_item(document: dict[str, Any], is_chapter: bool) -> Posted:
    """The unwrapped object as an item (or a note) of an actor; for a member, only blog
    posts and notes (NotAllowed otherwise)."""
    document, language = _language_maps(document)
    posted = _posted(document, is_chapter)
    if posted.item is not None:
        posted.item.language = language
    return replace(posted, language=language)


def _posted(document: dict[str, Any], is_chapter: bool) -> Posted:
    kind = document["type"]
    if kind == "Note":
        # A note is plain text, as `chapterhouse post note` takes it: its source (Markdown
        # or not) is published as written.
        source = document.get("source")
        if source is None:
            return Posted(None, note=_plain_content(document))
        if not isinstance(source, dict) or not isinstance(source.get("content"), str):
            raise ClientObjectError("source must be an object with content")
        return Posted(None, note=str(source["content"]))
    if kind != "Article" and not is_chapter:
        raise NotAllowed(MEMBERS_PUBLISH)
    summary = _string(document, "summary") or ""
    if kind == "Article":
        item = Item(kind=_article_kind(document, is_chapter), title=_string(document, "name")
                    or "", summary=summary, body=_body(document))
        if item.kind == "minutes":
            item.meeting_date = _string(document, "meetingDate")
    elif kind == "Event":
        item = Item(kind="event", title=_string(document, "name") or "", summary=summary,
                    body=_body(document))
        _event(document, item)
    else:
        # Mastodon writes the question as content and no name; ours carry both.
        name = _string(document, "name")
        if name is None:
            if document.get("source") is not None:
                raise ClientObjectError("a Question with a source needs a name (the question)")
            item = Item(kind="poll", title=_plain_content(document))
        else:
            item = Item(kind="poll", title=name, body=_body(document))
        _question(document, item)
    if item.kind != "blog" and not is_chapter:
        raise NotAllowed(MEMBERS_PUBLISH)
    if item.kind == "poll" and summary:
        raise ClientObjectError("a Question takes no summary")
    return Posted(item)
