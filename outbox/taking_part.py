"""A member takes part from the web: votes in a poll, goes to an event, or leaves it.

A poll or event of this node is counted at once, under the member's actor IRI, and its new
totals go out in an `Update` as for a vote or Join from elsewhere (outbox/content.py
queue_counts), in the same transaction. A poll or event of another node is asked of its
author from the member's actor: a vote as Mastodon sends one (a `Create` per choice, each
with a `Note` whose `name` is the choice, `inReplyTo` the Question), participation as
Mobilizon does (`Join` of the event, answered by `Accept` or `Reject`; `Leave` to go back).
What was sent is recorded, so that the page says so and a second vote is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from chapterhouse.reasons import Reason, reason
from federation.urls import Urls
from federation.vocab import AS_CONTEXT
from outbox import activities
from outbox.content import queue_counts
from outbox.items import JOINABLE_KINDS
from outbox.publish import send_to
from storage import items as item_store
from storage import taking_part as store
from storage.database import Database
from storage.remote import RemoteActor
from storage.timestamps import from_wire, utcnow

log = structlog.get_logger(__name__)


def _closed() -> Reason:
    return reason("vote.closed", "This poll is closed.")


def _voted() -> Reason:
    return reason("vote.again", "You have voted in this poll already.")


def _over() -> Reason:
    return reason("event.over", "This event is over.")


def _finished() -> Reason:
    return reason("project.finished", "This project is finished: nobody joins it any more.")


def project_finished(document: dict[str, Any]) -> bool:
    """Whether a project's document (ours or another node's) says it is finished."""
    return document.get("projectStatus") == "finished"


class Refusal(Exception):
    """Taking part is not possible as asked; the message says why, for the member."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)  # a Reason, worded where it is shown
        self.status = status


@dataclass(frozen=True)
class Member:
    id: int
    handle: str


@dataclass(frozen=True)
class RemoteOption:
    name: str
    votes: int


@dataclass(frozen=True)
class RemotePoll:
    """A Question as its author's document tells it."""

    options: list[RemoteOption]
    multiple: bool
    voters: int | None
    closes: datetime | None
    closed: bool


def remote_poll(document: dict[str, Any], now: datetime | None = None) -> RemotePoll:
    """The options and totals of a Question (Mastodon's shape: `oneOf` or `anyOf` of Notes
    named by their option, `replies.totalItems` the votes)."""
    multiple = isinstance(document.get("anyOf"), list)
    raw = document.get("anyOf" if multiple else "oneOf")
    options: list[RemoteOption] = []
    for option in raw if isinstance(raw, list) else []:
        if not isinstance(option, dict) or not isinstance(option.get("name"), str):
            continue
        replies = option.get("replies")
        total = replies.get("totalItems") if isinstance(replies, dict) else 0
        options.append(RemoteOption(option["name"], total if isinstance(total, int) else 0))
    voters = document.get("votersCount")
    closes = from_wire(document.get("endTime")) or from_wire(document.get("closed"))
    closed_at = document.get("closed")
    closed = (closed_at is not None and closed_at is not False) or (
        closes is not None and closes <= (now or datetime.now(UTC)))
    return RemotePoll(options, multiple, voters if isinstance(voters, int) else None,
                      closes, closed)


def event_over(starts: datetime | None, ends: datetime | None,
               now: datetime | None = None) -> bool:
    """Whether an event is over: ended, or started when it gives no end."""
    last = ends or starts
    return last is not None and last <= (now or datetime.now(UTC))


def _checked_choices(choices: list[str], options: list[str], multiple: bool) -> list[str]:
    chosen = list(dict.fromkeys(choices))
    if not chosen:
        raise Refusal(400, reason("vote.none", "Choose an option before voting."))
    if not multiple and len(chosen) > 1:
        raise Refusal(400, reason("vote.one", "This poll takes one choice."))
    for choice in chosen:
        if choice not in options:
            raise Refusal(400, reason("vote.option", "%(choice)r is not an option of this "
                                      "poll.", choice=choice[:100]))
    return chosen


async def vote_local(
    db: Database, urls: Urls, member: Member, poll_iri: str, choices: list[str]
) -> list[str]:
    """Count a member's vote in a poll of this node; returns the choices counted."""
    voter = urls.actor(member.handle)
    async with db.transaction() as tx:
        poll = await item_store.by_iri_tx(tx, poll_iri)
        if poll is None or poll.kind != "poll" or poll.deleted_at is not None:
            raise Refusal(404, reason("vote.no_poll", "There is no such poll on this node."))
        closes_at = poll.fields.closes_at
        if poll.closed_at is not None or closes_at is None or closes_at <= utcnow():
            raise Refusal(403, _closed())
        chosen = _checked_choices(choices, poll.fields.options, poll.fields.multiple)
        if await item_store.has_voted(tx, poll.id, voter):
            raise Refusal(409, _voted())
        for choice in chosen:
            # The vote's own id, as a remote vote's Note id; no document is served there.
            await item_store.add_vote(tx, poll.id, voter, choice,
                                      f"{voter}#votes/{activities.new_id()}")
        await queue_counts(tx, urls, poll_iri, [])
    log.info("vote", poll=poll_iri, voter=voter, choices=chosen, via="web")
    return chosen


def vote_note(urls: Urls, handle: str, question: str, author: str, choice: str
              ) -> dict[str, Any]:
    """Mastodon's vote: a Note named by the choice, with no content, to the poll's
    author only (Mastodon hides such Notes and counts them)."""
    member = urls.actor(handle)
    note_id = f"{member}#votes/{activities.new_id()}"
    return {
        "@context": AS_CONTEXT,
        "id": note_id,
        "type": "Note",
        "name": choice,
        "attributedTo": member,
        "inReplyTo": question,
        "to": [author],
    }


async def vote_remote(
    db: Database, urls: Urls, member: Member, question: store.ReceivedObject,
    author: RemoteActor, choices: list[str],
) -> list[str]:
    """Send a member's vote in a poll of another node to its author and record it."""
    poll = remote_poll(question.document)
    if poll.closed:
        raise Refusal(403, _closed())
    chosen = _checked_choices(choices, [o.name for o in poll.options], poll.multiple)
    async with db.transaction() as tx:
        if await store.remote_choices(tx, member.id, question.iri):
            raise Refusal(409, _voted())
        for choice in chosen:
            create = activities.create(
                urls, member.handle, vote_note(urls, member.handle, question.iri,
                                               author.iri, choice))
            if not await store.add_remote_vote(tx, member.id, question.iri, choice,
                                               create["id"]):
                raise Refusal(409, _voted())
            await send_to(tx, member.id, create, [author.inbox])
    log.info("vote sent", poll=question.iri, member=member.handle, choices=chosen)
    return chosen


async def go_local(
    db: Database, urls: Urls, member: Member, event_iri: str, going: bool
) -> None:
    """Add or remove a member as a participant of an event (or project) of this node."""
    participant = urls.actor(member.handle)
    async with db.transaction() as tx:
        event = await item_store.by_iri_tx(tx, event_iri)
        if event is None or event.kind not in JOINABLE_KINDS or event.deleted_at is not None:
            raise Refusal(404, reason("event.none", "There is no such event on this node."))
        if event.kind == "event" and event_over(event.fields.starts_at, event.fields.ends_at):
            raise Refusal(403, _over())
        if not going:
            if await item_store.remove_participant(tx, event.id, participant):
                await queue_counts(tx, urls, event_iri, [])
            return
        # Leaving a finished project stays possible; joining it does not.
        if event.kind == "project" and event.fields.project_status == "finished":
            raise Refusal(403, _finished())
        if await store.is_participant(tx, event.id, participant):
            return  # a second press of the button, or two tabs
        capacity = event.fields.capacity
        if capacity is not None and await item_store.participant_count(tx, event.id) >= capacity:
            raise Refusal(409, reason("event.full",
                                      "This event is full: there are no places left."))
        await item_store.add_participant(tx, event.id, participant,
                                         f"{participant}#joins/{activities.new_id()}")
        await queue_counts(tx, urls, event_iri, [])
    log.info("participation", event_iri=event_iri, member=member.handle, going=going, via="web")


def join(urls: Urls, handle: str, event: str, organiser: str) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": "Join",
        "actor": urls.actor(handle),
        "to": [organiser],
        "object": event,
    }


def leave(urls: Urls, handle: str, event: str, organiser: str) -> dict[str, Any]:
    """Mobilizon's way back out, which Chapterhouse's inbox takes too."""
    return join(urls, handle, event, organiser) | {"type": "Leave"}


async def join_remote(
    db: Database, urls: Urls, member: Member, event: store.ReceivedObject,
    organiser: RemoteActor,
) -> None:
    if event_over(from_wire(event.document.get("startTime")),
                  from_wire(event.document.get("endTime"))):
        raise Refusal(403, _over())
    if project_finished(event.document):
        raise Refusal(403, _finished())
    activity = join(urls, member.handle, event.iri, organiser.iri)
    async with db.transaction() as tx:
        if not await store.add_event_join(tx, member.id, event.iri, organiser.iri,
                                          activity["id"]):
            return  # asked already: the page says so
        await send_to(tx, member.id, activity, [organiser.inbox])
    log.info("join sent", event_iri=event.iri, member=member.handle)


async def leave_remote(
    db: Database, urls: Urls, member: Member, event: store.ReceivedObject,
    organiser: RemoteActor,
) -> None:
    async with db.transaction() as tx:
        if await store.remove_event_join(tx, member.id, event.iri) is None:
            return
        await send_to(tx, member.id, leave(urls, member.handle, event.iri, organiser.iri),
                      [organiser.inbox])
    log.info("leave sent", event_iri=event.iri, member=member.handle)
