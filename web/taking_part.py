"""Voting and going to events from the web, and the page of a remote object.

Routes: POST /vote (object = the poll's IRI, choice = an option, repeated for a poll that
takes several), POST /rsvp (object = the event's IRI, going = yes|no), GET /remote/{id}
(a poll, event or post from another node that reached this one). A poll or event of this
node is counted here; one of another node is asked of its author (outbox/taking_part.py).
The session middleware has already checked every POST's origin and CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from aiohttp import web

from federation.remote_actors import FetchError
from outbox.taking_part import (
    Member,
    Refusal,
    event_over,
    go_local,
    join_remote,
    leave_remote,
    vote_local,
    vote_remote,
)
from storage import decisions as decision_store
from storage import taking_part as store
from storage.items import StoredItem
from storage.remote import RemoteActor
from web import session
from web.accounts import see_other
from web.i18n import _, word
from web.items import ItemView
from web.pages import render
from web.project_views import (
    ParticipantView,
    member_view,
    participant_views,
    remote_participant_views,
)
from web.remote_views import RemoteView, is_public, remote_view
from web.replies import reply_section
from web.state import DB, NODE, REMOTE_ACTORS

log = structlog.get_logger(__name__)

MAX_IRI = 2000
MAX_CHOICES = 50


@dataclass(frozen=True)
class PollPart:
    """A poll's vote form, or what the viewer voted."""

    iri: str
    options: list[str]
    multiple: bool
    closed: bool
    voted: list[str]


@dataclass(frozen=True)
class EventPart:
    """An event's "I'm going" button, or the viewer's place in it."""

    iri: str
    state: str | None  # None, or pending | going | refused (a remote organiser's answer)
    remaining: int | None  # places left, when the event has a capacity
    remote: bool
    over: bool = False  # ended (or, without an end, started): nobody joins or leaves
    kind: str = "event"  # or "project", which people take part in the same way
    people: list[ParticipantView] = field(default_factory=list)  # a project's
    starter: ParticipantView | None = None  # who started a project


def _member(current: session.Viewer) -> Member:
    return Member(current.member_id, current.handle)


async def local_part(
    request: web.Request, stored: StoredItem, item: ItemView
) -> PollPart | EventPart | None:
    """What item.html shows for taking part in a local poll or event."""
    current = session.viewer(request)
    db = request.app[DB]
    if item.kind not in ("poll", "event", "project"):
        return None
    urls = request.app[NODE].urls
    me = urls.actor(current.handle) if current else None
    if item.kind == "poll":
        voted = await store.local_choices(db, stored.id, me) if me else []
        return PollPart(item.id, [o.name for o in item.options], item.multiple, item.closed,
                        voted)
    going = me is not None and await store.is_participant(db, stored.id, me)
    if item.kind == "project":
        starter = await member_view(db, item.started_by) if item.started_by else None
        return EventPart(item.id, "going" if going else None, None, remote=False,
                         over=item.project_status == "finished", kind="project",
                         starter=starter,
                         people=await participant_views(db, urls, stored.id))
    return EventPart(item.id, "going" if going else None, item.remaining, remote=False,
                     over=event_over(stored.fields.starts_at, stored.fields.ends_at))


async def _visible(request: web.Request, obj: store.ReceivedObject) -> bool:
    """Public objects are shown to anyone; others only to a member they reached (them, or
    one of their chapters)."""
    if is_public(obj.document):
        return True
    current = session.viewer(request)
    if current is None:
        return False
    mine = {current.handle} | {c.handle for c in current.chapters}
    return bool(mine & set(await store.audience_of(request.app[DB], obj.id)))


async def _remote_part(
    request: web.Request, obj: store.ReceivedObject, view: RemoteView
) -> PollPart | EventPart | None:
    current = session.viewer(request)
    db = request.app[DB]
    if view.poll is not None:
        voted = await store.remote_choices(db, current.member_id, obj.iri) if current else []
        return PollPart(obj.iri, [o.name for o in view.poll.options], view.poll.multiple,
                        view.poll.closed, voted)
    if view.project_status is not None:
        joined = await store.event_join(db, current.member_id, obj.iri) if current else None
        return EventPart(obj.iri, joined.state if joined else None, None, remote=True,
                         over=view.project_status == "finished", kind="project",
                         people=await remote_participant_views(
                             request.app[NODE].urls, db, obj.iri,
                             list(view.participant_ids)))
    if obj.type == "Event":
        joined = await store.event_join(db, current.member_id, obj.iri) if current else None
        remaining = None
        if view.capacity is not None and view.participants is not None:
            remaining = max(view.capacity - view.participants, 0)
        return EventPart(obj.iri, joined.state if joined else None, remaining, remote=True,
                         over=event_over(view.starts, view.ends))
    return None


def _parse_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


async def remote_page(request: web.Request) -> web.Response:
    db = request.app[DB]
    object_id = _parse_id(request.match_info["id"])
    obj = await store.received(db, object_id) if object_id is not None else None
    if obj is None or not await _visible(request, obj):
        return _notice(request, _("Not found"),
                       _("This node holds no such post, poll or event."), 404)
    if obj.type == "Question":
        # A decision that reached one of our chapters from above is voted on its own page,
        # here, never by a poll vote sent to the deciding node (which refuses it).
        decision = await decision_store.by_iri(db, obj.iri)
        if decision is not None:
            return see_other(f"/decisions/{decision.id}")
    view = remote_view(obj)
    return render(request, "remote.html", remote=view,
                  part=await _remote_part(request, obj, view),
                  replies=await reply_section(request, view.iri))


def _notice(request: web.Request, heading: str, message: str, status: int,
            back: str | None = None) -> web.Response:
    link = {"href": back, "text": _("Back")} if back else None
    response = render(request, "notice.html", heading=heading, message=message, link=link)
    response.set_status(status)
    return response


async def _target(
    request: web.Request,
) -> tuple[session.Viewer, str, dict[str, Any], str, store.ReceivedObject | None] | web.Response:
    """(viewer, object IRI, form, the page to go back to, the remote object or None for a
    local item), or the refusal."""
    form = await request.post()
    raw = form.get("object")
    iri = raw.strip() if isinstance(raw, str) and len(raw) <= MAX_IRI else ""
    db = request.app[DB]
    urls = request.app[NODE].urls
    remote = None
    if iri and urls.is_local(iri):
        back = urlsplit(iri).path
    else:
        remote = await store.received_by_iri(db, iri) if iri else None
        if remote is None or not await _visible(request, remote):
            return _notice(request, _("Not found"),
                           _("This node holds no such poll or event."), 404)
        back = f"/remote/{remote.id}"
    current = session.viewer(request)
    if current is None:
        # A visitor sees no form; this is a member whose session ended on the way.
        return see_other(f"/login?next={quote(back)}")
    return current, iri, dict(form), back, remote


async def _author(request: web.Request, iri: str) -> RemoteActor | web.Response:
    try:
        return await request.app[REMOTE_ACTORS].get(iri)
    except FetchError as exc:
        log.info("author unreachable", actor=iri, error=str(exc))
        return _notice(request, _("Its server does not answer"),
                       _("The server this comes from could not be reached. "
                         "Try again in a while."), 502)


async def vote(request: web.Request) -> web.Response:
    found = await _target(request)
    if isinstance(found, web.Response):
        return found
    current, iri, _form, back, remote = found
    form = await request.post()
    choices = [c for c in form.getall("choice", []) if isinstance(c, str)][:MAX_CHOICES]
    node = request.app[NODE]
    try:
        if remote is None:
            await vote_local(request.app[DB], node.urls, _member(current), iri, choices)
        else:
            if remote.type != "Question":
                raise Refusal(400, _("This is not a poll."))
            author = await _author(request, remote.attributed_to)
            if isinstance(author, web.Response):
                return author
            await vote_remote(request.app[DB], node.urls, _member(current), remote, author,
                              choices)
    except Refusal as exc:
        log.info("vote refused", object=iri, member=current.handle, reason=str(exc))
        return _notice(request, _("Your vote was not counted"), word(exc), exc.status,
                       back=back)
    return see_other(back)


async def rsvp(request: web.Request) -> web.Response:
    found = await _target(request)
    if isinstance(found, web.Response):
        return found
    current, iri, form, back, remote = found
    going = form.get("going")
    if going not in ("yes", "no"):
        return _notice(request, _("Going or not?"), _("The form says neither yes nor no."), 400,
                       back=back)
    node = request.app[NODE]
    db = request.app[DB]
    try:
        if remote is None:
            await go_local(db, node.urls, _member(current), iri, going == "yes")
        else:
            if remote.type != "Event" and remote_view(remote).project_status is None:
                raise Refusal(400, _("This is not an event."))
            organiser = await _author(request, remote.attributed_to)
            if isinstance(organiser, web.Response):
                return organiser
            if going == "yes":
                await join_remote(db, node.urls, _member(current), remote, organiser)
            else:
                await leave_remote(db, node.urls, _member(current), remote, organiser)
    except Refusal as exc:
        log.info("rsvp refused", object=iri, member=current.handle, reason=str(exc))
        return _notice(request, _("Not possible"), word(exc), exc.status, back=back)
    return see_other(back)


def setup(app: web.Application) -> None:
    app.router.add_post("/vote", vote)
    app.router.add_post("/rsvp", rsvp)
    app.router.add_get("/remote/{id}", remote_page)
