"""The organisers' workspace of a chapter: what waits for them, its members, followers
waiting for approval, subchapters asking to join, and its own parent.

Routes: GET /@{slug}/manage (the landing page), GET /@{slug}/members/manage, GET (to
confirm) and POST /@{slug}/members/{handle}/remove, POST
/@{slug}/members/{handle}/appoint|dismiss, GET /@{slug}/followers and POST
/@{slug}/followers/approve|reject, GET /@{slug}/subchapters and POST
/@{slug}/subchapters/accept|reject, GET/POST /@{slug}/parent and POST /@{slug}/parent/leave.
The settings are web/chapter_settings.py's. Only the chapter's organisers and the node's
administrators get in; the session middleware (web/session.py) has already checked every
POST's origin and CSRF token. What federates goes through outbox/follows.py and
hierarchy/affiliation.py, as the command line's `followers` and `chapter` commands do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from aiohttp import web

from chapterhouse.reasons import reason
from federation import webfinger
from federation.client import FetchError, NonPublicAddress
from federation.remote_actors import InvalidActor
from federation.urls import NODE as NODE_HANDLE
from hierarchy import affiliation, levels
from outbox import follows
from outbox.publish import PublishError
from storage import accounts as account_store
from storage import actors as actor_store
from storage import chapter_settings as store
from storage import hierarchy as hierarchy_store
from storage import inbox as inbox_store
from storage import paging
from storage import remote as remote_store
from storage.actors import ActorRecord
from storage.timestamps import now
from web import session
from web.accounts import see_other
from web.i18n import _, ngettext, sentence
from web.pages import render
from web.state import DB, NODE, REMOTE_ACTORS

log = structlog.get_logger("chapterhouse.workspace")

MEMBERS_PAGE = 100
MAX_PARENT = 300


@dataclass(frozen=True)
class Affiliation:
    """How this node takes in subchapters and reaches others (from its configuration)."""

    accept_local: bool  # chapters of this node join each other without an organiser
    allow_http: bool  # private addresses allowed: WebFinger over plain http too


AFFILIATION = web.AppKey("affiliation", Affiliation)


def notice(request: web.Request, heading: str, message: str, status: int = 200,
           link: dict[str, str] | None = None) -> web.Response:
    response = render(request, "notice.html", heading=heading, message=message, link=link)
    response.set_status(status)
    return response


def may_manage(request: web.Request, chapter: ActorRecord) -> bool:
    current = session.viewer(request)
    return current is not None and (
        current.is_admin or chapter.handle in {c.handle for c in current.organises})


async def chapter_in_path(request: web.Request, page: str) -> ActorRecord | web.Response:
    """The chapter named by the path's `slug`, for a logged-in viewer; else the answer: a
    404 page, or to log in (then to `page` of the chapter: "manage", "publish?kind=news")."""
    chapter = await actor_store.actor_by_handle(request.app[DB], request.match_info["slug"])
    if chapter is None or chapter.kind != "chapter" or chapter.handle is None:
        log.info("no such chapter", path=request.path)
        return notice(request, _("No such chapter"), _("This node has no chapter by that name."),
                      404)
    if session.viewer(request) is None:
        return see_other(f"/login?next={quote(f'/@{chapter.handle}/{page}', safe='/@')}")
    return chapter


async def organised(request: web.Request, page: str) -> ActorRecord | web.Response:
    """The chapter in the path when the viewer organises it (or administers the node), else
    the answer: to log in (then to `page`, a GET of the workspace), or a 403 page."""
    chapter = await chapter_in_path(request, page)
    if not isinstance(chapter, ActorRecord):
        return chapter
    handle = chapter.handle or ""
    if not may_manage(request, chapter):
        log.info("workspace refused", chapter=handle, page=page)
        return notice(request, _("Not yours to manage"),
                      _("Only the organisers of %(chapter)s manage it.", chapter=chapter.name),
                      403)
    return chapter


def _field(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit].strip() if isinstance(value, str) else ""


# --- The landing page

async def manage(request: web.Request) -> web.Response:
    chapter = await organised(request, "manage")
    if isinstance(chapter, web.Response):
        return chapter
    db = request.app[DB]
    local_prefix = request.app[NODE].urls.actor("")
    parent = await hierarchy_store.parent_of(db, chapter.id)
    return render(request, "manage.html", chapter=chapter,
                  waiting=await store.waiting(db, chapter.id),
                  member_count=await actor_store.member_count(db, chapter.id),
                  parent=parent,
                  parent_ref=await hierarchy_store.chapter_ref(db, parent.parent_iri,
                                                               local_prefix)
                  if parent else None,
                  kinds=("news", "blog", "minutes", "event", "poll", "note"))


# --- Members

async def members_page(request: web.Request, errors: dict[str, str] | None = None,
                       status: int = 200) -> web.Response:
    chapter = await organised(request, "members/manage")
    if isinstance(chapter, web.Response):
        return chapter
    db = request.app[DB]
    token = request.query.get("cursor")
    try:
        cursor = None if token is None else paging.decode(token, 2)
    except paging.BadCursor as exc:
        log.info("bad cursor", reason=str(exc))
        return notice(request, _("No such page"),
                      _("This link to another page is not one this site made."), 400)
    members, page = await store.members_page(db, chapter.id, cursor, MEMBERS_PAGE)
    path = request.path
    response = render(request, "manage_members.html", chapter=chapter,
                      organisers=await store.organisers(db, chapter.id), members=members,
                      member_count=await actor_store.member_count(db, chapter.id),
                      newer=f"{path}?cursor={paging.encode(page.prev)}" if page.prev else None,
                      older=f"{path}?cursor={paging.encode(page.next)}" if page.next else None,
                      errors=errors or {}, csrf_token=session.csrf_token(request))
    response.set_status(status)
    return response


async def _member_action(request: web.Request, verb: str) -> web.Response:
    chapter = await organised(request, "members/manage")
    if isinstance(chapter, web.Response):
        return chapter
    db = request.app[DB]
    back = f"/@{quote(chapter.handle or '')}/members/manage"
    found = await store.member(db, chapter.id, request.match_info["handle"])
    if found is None:
        return notice(request, _("No such member"),
                      _("They are not a member of %(chapter)s (any more).",
                        chapter=chapter.name), 404,
                      link={"href": back, "text": _("Members")})
    try:
        if verb == "remove":
            await store.remove_member(db, chapter.id, found.id)
        elif verb == "appoint":
            await account_store.add_organiser(db, chapter.id, found.id, now())
        else:
            await store.stop_organising(db, chapter.id, found.id)
    except store.LastOrganiser:
        log.info("last organiser kept", chapter=chapter.handle, member=found.handle, verb=verb)
        return await members_page(
            request, {found.handle: _("%(name)s is the only organiser of %(chapter)s: "
                                      "appoint another organiser first.", name=found.name,
                                      chapter=chapter.name)}, 409)
    log.info("member changed", chapter=chapter.handle, member=found.handle, verb=verb)
    return see_other(back)


async def remove_member(request: web.Request) -> web.Response:
    return await _member_action(request, "remove")


async def confirm_remove(request: web.Request) -> web.Response:
    """A page asking to confirm, its button the POST: a removal is not undone by a click."""
    chapter = await organised(request, "members/manage")
    if isinstance(chapter, web.Response):
        return chapter
    found = await store.member(request.app[DB], chapter.id, request.match_info["handle"])
    if found is None:
        return notice(request, _("No such member"),
                      _("They are not a member of %(chapter)s (any more).",
                        chapter=chapter.name), 404,
                      link={"href": f"/@{quote(chapter.handle or '')}/members/manage",
                            "text": _("Members")})
    return render(request, "manage_remove.html", chapter=chapter, member=found,
                  csrf_token=session.csrf_token(request))


async def appoint(request: web.Request) -> web.Response:
    return await _member_action(request, "appoint")


async def dismiss(request: web.Request) -> web.Response:
    return await _member_action(request, "dismiss")


# --- Followers waiting for approval

@dataclass(frozen=True)
class Someone:
    """A remote actor as a list shows them."""

    iri: str
    name: str
    handle: str
    link: str


async def _someone(request: web.Request, iri: str) -> Someone:
    actor = await remote_store.actor(request.app[DB], iri)
    if actor is None:
        return Someone(iri, iri, "", iri)
    handle = f"@{actor.username}@{actor.host}" if actor.username else ""
    return Someone(iri, actor.name or actor.username or iri, handle, iri)


async def followers_page(request: web.Request) -> web.Response:
    chapter = await organised(request, "followers")
    if isinstance(chapter, web.Response):
        return chapter
    waiting = await inbox_store.followers_of(request.app[DB], chapter.id, "requested")
    return render(request, "manage_followers.html", chapter=chapter,
                  waiting=[(await _someone(request, f.follower_iri), f.created_at)
                           for f in waiting],
                  csrf_token=session.csrf_token(request))


async def _decide_follower(request: web.Request, accept: bool) -> web.Response:
    chapter = await organised(request, "followers")
    if isinstance(chapter, web.Response):
        return chapter
    back = f"/@{quote(chapter.handle or '')}/followers"
    follower = _field(await request.post(), "follower", 2000)
    try:
        await follows.decide(request.app[DB], request.app[NODE].urls, chapter.handle or "",
                             follower, accept)
    except PublishError:
        return notice(request, _("No such request"),
                      _("This follow request was answered already, or withdrawn."), 404,
                      link={"href": back, "text": _("Followers waiting")})
    log.info("follower decided", chapter=chapter.handle, follower=follower, accept=accept)
    return see_other(back)


async def approve_follower(request: web.Request) -> web.Response:
    return await _decide_follower(request, True)


async def reject_follower(request: web.Request) -> web.Response:
    return await _decide_follower(request, False)


# --- Subchapters asking to join

@dataclass(frozen=True)
class AskingChapter:
    iri: str
    name: str
    level: str | None
    location: str | None
    since: Any


async def subchapters_page(request: web.Request) -> web.Response:
    chapter = await organised(request, "subchapters")
    if isinstance(chapter, web.Response):
        return chapter
    db = request.app[DB]
    local_prefix = request.app[NODE].urls.actor("")
    asking = []
    for r in await hierarchy_store.requests(db, chapter.id):
        if r.state != "requested":
            continue
        ref = await hierarchy_store.chapter_ref(db, r.child_iri, local_prefix)
        asking.append(AskingChapter(r.child_iri, ref.name, ref.level, ref.location, r.since))
    return render(request, "manage_subchapters.html", chapter=chapter, asking=asking,
                  subchapters=await hierarchy_store.subchapter_refs(db, chapter.id),
                  csrf_token=session.csrf_token(request))


async def _decide_subchapter(request: web.Request, accept: bool) -> web.Response:
    chapter = await organised(request, "subchapters")
    if isinstance(chapter, web.Response):
        return chapter
    back = f"/@{quote(chapter.handle or '')}/subchapters"
    child = _field(await request.post(), "child", 2000)
    node = request.app[NODE]
    try:
        await affiliation.decide(request.app[DB], node.urls, chapter.handle or "", child, accept,
                               node.username)
    except PublishError:
        return notice(request, _("No such request"),
                      _("This request to join was answered already, or withdrawn."), 404,
                      link={"href": back, "text": _("Subchapters")})
    log.info("subchapter decided", chapter=chapter.handle, child=child, accept=accept)
    return see_other(back)


async def accept_subchapter(request: web.Request) -> web.Response:
    return await _decide_subchapter(request, True)


async def reject_subchapter(request: web.Request) -> web.Response:
    return await _decide_subchapter(request, False)


# --- The chapter's own parent

async def _parent_page(request: web.Request, chapter: ActorRecord, value: str = "",
                       error: str | None = None, status: int = 200) -> web.Response:
    db = request.app[DB]
    local_prefix = request.app[NODE].urls.actor("")
    parent = await hierarchy_store.parent_of(db, chapter.id)
    response = render(request, "manage_parent.html", chapter=chapter, parent=parent,
                      parent_ref=await hierarchy_store.chapter_ref(db, parent.parent_iri,
                                                                   local_prefix)
                      if parent else None,
                      value=value, error=error, max_parent=MAX_PARENT,
                      higher=[level for level, rank in levels.RANKS.items()
                              if rank > levels.RANKS.get(chapter.level or "", 9)],
                      csrf_token=session.csrf_token(request))
    response.set_status(status)
    return response


async def parent_page(request: web.Request) -> web.Response:
    chapter = await organised(request, "parent")
    if isinstance(chapter, web.Response):
        return chapter
    return await _parent_page(request, chapter)


def _local_handle(request: web.Request, target: str) -> str | None:
    """The handle, when a URL or @user@host names an actor of this node (as the command
    line's `chapter affiliate --parent` tells)."""
    node = request.app[NODE]
    if target.startswith(("http://", "https://")):
        if urlsplit(target).netloc.lower() != node.domain.lower():
            return None
        return node.urls.parse_actor_url(target) or ""
    try:
        user, host = webfinger.parse_handle(target)
    except webfinger.BadResource:
        return None
    return user.lower() if host == node.domain.lower() else None


async def _ask_parent(request: web.Request, chapter: ActorRecord, target: str) -> str:
    """Ask the chapter named to take ours in; the state ('requested' or 'accepted'). Raises
    PublishError (or a fetch error) with the reason."""
    db, node = request.app[DB], request.app[NODE]
    handle = chapter.handle or ""
    local = _local_handle(request, target)
    if local is not None:
        if local in ("", NODE_HANDLE):
            raise PublishError(reason("parent.not_chapter",
                                      "%(target)s is not a chapter of this node",
                                      target=target))
        _join, state = await affiliation.affiliate_local(
            db, node.urls, handle, local, node.username,
            accept=request.app[AFFILIATION].accept_local)
        return state
    actors = request.app[REMOTE_ACTORS]
    if target.startswith(("http://", "https://")):
        # The chapter's page or its actor id: what the URL answers says which actor it is.
        document, _answer = await actors.transport.fetch(target)
        found = document.get("id")
        if not isinstance(found, str) or not found.startswith(("http://", "https://")):
            raise PublishError(reason("parent.no_chapter", "%(target)s does not describe a "
                                      "chapter", target=target))
        iri = found
    else:
        try:
            iri = await webfinger.lookup(actors.transport.client, target,
                                         allow_http=request.app[AFFILIATION].allow_http)
        except webfinger.UnknownAccount:
            raise PublishError(reason("parent.unknown", "there is no chapter %(target)s",
                                      target=target)) from None
        except (webfinger.BadResource, webfinger.NotHere) as exc:
            raise PublishError(exc.args[0]) from None  # a Reason, worded on the page
    await affiliation.affiliate(db, node.urls, actors, handle, iri)
    return "requested"


async def ask_parent(request: web.Request) -> web.Response:
    chapter = await organised(request, "parent")
    if isinstance(chapter, web.Response):
        return chapter
    target = _field(await request.post(), "parent", MAX_PARENT + 1)
    error = None
    if not target:
        error = _("Enter the parent chapter's address, such as @ireland@ireland.example.org, "
                  "or the URL of its page.")
    elif len(target) > MAX_PARENT:
        error = ngettext("An address has at most %(num)d character.",
                         "An address has at most %(num)d characters.", MAX_PARENT)
    elif not target.startswith(("http://", "https://", "@")) and "@" not in target:
        error = _("Enter an address such as @ireland@ireland.example.org, or a URL starting "
                  "with https://.")
    if error is None:
        try:
            state = await _ask_parent(request, chapter, target)
        except hierarchy_store.AlreadyAffiliated:
            error = _("This chapter already has a parent, or a request waiting: leave it "
                      "first.")
        except PublishError as exc:
            error = sentence(exc)
        except NonPublicAddress:
            error = _("%(target)s is on a private address this node does not reach.",
                      target=target)
        except FetchError as exc:
            # A 404 or 410 from the other node: the address names nobody there.
            error = (_("There is no chapter at %(target)s.", target=target)
                     if exc.status in (404, 410) else
                     _("%(target)s could not be reached: %(why)s.", target=target,
                       why=str(exc)))
        except InvalidActor as exc:
            error = _("%(target)s is not a chapter: %(why)s.", target=target, why=str(exc))
        else:
            log.info("parent asked", chapter=chapter.handle, parent=target, state=state)
            return see_other(f"/@{quote(chapter.handle or '')}/parent")
    log.info("parent request refused", chapter=chapter.handle, reason=error)
    return await _parent_page(request, chapter, target, error, 400)


async def leave_parent(request: web.Request) -> web.Response:
    chapter = await organised(request, "parent")
    if isinstance(chapter, web.Response):
        return chapter
    node = request.app[NODE]
    try:
        await affiliation.leave(request.app[DB], node.urls, chapter.handle or "", node.username)
    except PublishError:
        return notice(request, _("No parent to leave"),
                      _("%(chapter)s has no parent, and asks none to take it in.",
                        chapter=chapter.name), 404,
                      link={"href": f"/@{quote(chapter.handle or '')}/parent",
                            "text": _("Parent chapter")})
    log.info("parent left", chapter=chapter.handle)
    return see_other(f"/@{quote(chapter.handle or '')}/parent")


def setup(app: web.Application, accept_local: bool, allow_http: bool) -> None:
    app[AFFILIATION] = Affiliation(accept_local, allow_http)
    app.router.add_get("/@{slug}/manage", manage)
    app.router.add_get("/@{slug}/members/manage", members_page)
    app.router.add_get("/@{slug}/members/{handle}/remove", confirm_remove)
    app.router.add_post("/@{slug}/members/{handle}/remove", remove_member)
    app.router.add_post("/@{slug}/members/{handle}/appoint", appoint)
    app.router.add_post("/@{slug}/members/{handle}/dismiss", dismiss)
    app.router.add_get("/@{slug}/followers", followers_page)
    app.router.add_post("/@{slug}/followers/approve", approve_follower)
    app.router.add_post("/@{slug}/followers/reject", reject_follower)
    app.router.add_get("/@{slug}/subchapters", subchapters_page)
    app.router.add_post("/@{slug}/subchapters/accept", accept_subchapter)
    app.router.add_post("/@{slug}/subchapters/reject", reject_subchapter)
    app.router.add_get("/@{slug}/parent", parent_page)
    app.router.add_post("/@{slug}/parent", ask_parent)
    app.router.add_post("/@{slug}/parent/leave", leave_parent)
