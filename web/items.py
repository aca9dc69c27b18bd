"""Items (news, blog posts, minutes, events, polls) as people see them: the views that
pages and feeds are made from.

Everything shown comes from the `items` row (the structured source of the AS2 document):
kinds, time zones and poll totals are the database's; the node's clock decides what is
upcoming and whether a poll is still open.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from federation.languages import version
from federation.sanitize import clean_html, clean_text
from outbox.items import body_html, derived_summary, item_from_stored
from storage import items as store
from storage.database import Database
from storage.items import Reply, StoredItem, StoredNote
from storage.timestamps import iso
from web.i18n import current

# How many of each kind a home or chapter page lists.
LATEST = 5
UPCOMING = 10
# A note has no title; lists show its start, this long at most.
NOTE_TITLE = 80


@dataclass(frozen=True)
class PollOption:
    name: str
    votes: int
    share: int  # per cent of the votes (of the voters, when several choices are allowed)


@dataclass
class ItemView:
    """One item, ready for a template or a feed."""

    id: str  # its IRI, which is also its URL
    kind: str
    title: str
    summary: str  # plain text: the author's summary or the start of the body
    own_summary: str  # the author's summary only
    # The body as sanitised HTML; for an item, made from `markdown` when first read: lists
    # show only the summary, and rendering every listed body doubled their cost.
    _content: Markup | None = field(repr=False, compare=False)
    author: str  # handle
    author_name: str
    author_kind: str
    published: str
    updated: str | None
    # What its author wrote it in ("eo", the `lang` of its title and text); None: unknown.
    language: str | None = None
    meeting_date: str | None = None
    # events: moments in the event's own time zone
    starts: datetime | None = None
    ends: datetime | None = None
    timezone: str | None = None
    place_name: str | None = None
    address: str | None = None
    online_url: str | None = None
    capacity: int | None = None
    participants: int = 0
    # polls
    options: list[PollOption] = field(default_factory=list)
    multiple: bool = False
    votes: int = 0
    voters: int = 0
    closes_at: str | None = None
    closed: bool = False
    closed_at: str | None = None
    # projects
    project_status: str | None = None
    started_by: str | None = None  # the starter's handle

    markdown: str = ""

    @property
    def content(self) -> Markup:
        if self._content is None:
            self._content = Markup(body_html(self.markdown))
        return self._content

    @property
    def ics_url(self) -> str:
        return f"{self.id}.ics"

    @property
    def remaining(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.participants, 0)

    @property
    def closing(self) -> str | None:
        """When the poll closes, or closed."""
        return self.closed_at or self.closes_at


@dataclass(frozen=True)
class ReplyView:
    id: str
    link: str | None  # the id when it is an http(s) URL: only those are linked
    author_url: str | None
    author_name: str
    author_handle: str | None  # @user@host
    published: str | None
    content: Markup
    language: str | None = None  # of the content shown (its `lang`), when known


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def event_zone(name: str | None) -> ZoneInfo:
    """An event's zone; UTC for a name this machine's tz database does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def item_view(
    db: Database, row: StoredItem, now: datetime, counts: bool = True
) -> ItemView:
    """The view of an items row. Polls always get their totals; events get their
    participants only with `counts` (lists do not show them)."""
    item = item_from_stored(row.fields)
    view = ItemView(
        id=row.object_iri, kind=item.kind, title=item.title,
        summary=derived_summary(item), own_summary=item.summary,
        _content=None, markdown=item.body, author=row.author,
        author_name=row.author_name, author_kind=row.author_kind,
        published=utc_iso(row.published), updated=iso(row.updated), language=item.language,
    )
    if item.kind == "minutes":
        view.meeting_date = item.meeting_date
    elif item.kind == "event" and item.starts_at:
        zone = event_zone(item.timezone)
        view.timezone = item.timezone
        view.starts = datetime.fromisoformat(item.starts_at).astimezone(zone)
        if item.ends_at:
            view.ends = datetime.fromisoformat(item.ends_at).astimezone(zone)
        view.place_name, view.address = item.place_name, item.address
        view.online_url, view.capacity = item.online_url, item.capacity
        if counts:
            view.participants = await store.participant_count(db, row.id)
    elif item.kind == "project":
        view.project_status, view.started_by = item.project_status, item.started_by
        if counts:
            view.participants = await store.participant_count(db, row.id)
    elif item.kind == "poll":
        votes, voters = await store.vote_counts(db, row.id)
        total = sum(votes.get(option, 0) for option in item.options)
        base = voters if item.multiple else total
        view.options = [
            PollOption(option, votes.get(option, 0),
                       round(100 * votes.get(option, 0) / base) if base else 0)
            for option in item.options
        ]
        view.multiple, view.votes, view.voters = item.multiple, total, voters
        view.closes_at, view.closed_at = item.closes_at, iso(row.closed_at)
        view.closed = row.closed_at is not None or (
            item.closes_at is not None and _parse(item.closes_at) <= now)
    return view


def note_view(row: StoredNote) -> ItemView:
    """A note (from `latest_notes`) as a list shows it: its text stands in for a title."""
    document: dict[str, Any] = row.document
    content = clean_html(str(document.get("content") or ""))
    # Paragraph and line breaks become spaces, or their words would run together.
    spaced = re.sub(r"(?i)</p>|<br\s*/?>", " ", content)
    text = " ".join(html.unescape(clean_text(spaced, limit=len(spaced))).split())
    title = text if len(text) <= NOTE_TITLE else text[:NOTE_TITLE].rsplit(" ", 1)[0] + "…"
    return ItemView(
        id=row.iri, kind="note", title=title, summary=text, own_summary="",
        _content=Markup(content), author=row.author, author_name=row.author_name,
        author_kind=row.author_kind, published=utc_iso(row.published), updated=None,
        language=version(document, "content", "")[1],
    )


async def item_views(db: Database, rows: list[StoredItem], now: datetime) -> list[ItemView]:
    return [await item_view(db, row, now, counts=False) for row in rows]


async def sections(db: Database, actor_id: int | None, now: datetime | None = None
                   ) -> dict[str, Any]:
    """What a home or chapter page lists: latest news, blog posts and minutes, upcoming
    events and the current poll (node-wide when actor_id is None)."""
    now = now or datetime.now(UTC)
    poll = await store.current_poll(db, actor_id)
    return {
        "news": await item_views(db, await store.latest(db, ("news",), actor_id, LATEST), now),
        "blogs": await item_views(db, await store.latest(db, ("blog",), actor_id, LATEST), now),
        "minutes": await item_views(
            db, await store.latest(db, ("minutes",), actor_id, LATEST), now),
        "events": await item_views(
            db, await store.upcoming_events(db, now, actor_id, UPCOMING), now),
        "poll": None if poll is None else await item_view(db, poll, now),
    }


def _http(url: str) -> str | None:
    return url if url.startswith(("https://", "http://")) else None


def reply_view(row: Reply) -> ReplyView:
    url = row.attributed_to or ""
    handle = (f"@{row.author_username}@{row.author_host}"
              if row.author_username and row.author_host else None)
    author_url: str | None
    if row.local_handle:
        handle, author_url = f"@{row.local_handle}", f"/@{row.local_handle}"
    else:
        author_url = _http(url)
    name = row.author_name or row.author_username or url or "?"
    # The version in the reader's language, when the author sent one (contentMap).
    shown, language = version({"content": row.content, "contentMap": row.content_map},
                              "content", current().code)
    return ReplyView(
        id=row.iri, link=_http(row.iri), author_url=author_url, author_name=name,
        author_handle=handle, published=iso(row.published),
        # Sanitised when it arrived; cleaning again costs little and guards the page.
        content=Markup(clean_html(shown or "")), language=language,
    )
