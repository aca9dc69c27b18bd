"""HTML pages for people: the node's home page and each chapter's and member's page."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
from aiohttp import web
from markupsafe import Markup

from federation.text import plain_to_html
from outbox.items import KINDS
from storage import actors as store
from storage import hierarchy as hierarchy_store
from storage import items as item_store
from storage import paging
from storage.actors import ActorRecord
from storage.timestamps import iso
from web.errors import refuse
from web.items import item_views, note_view, sections
from web.membership import chapter_membership
from web.reactions import reaction_target
from web.remote_views import received_sections
from web.session import viewer
from web.state import DB, NODE, TEMPLATES

MEMBER_POSTS = 10  # the newest a member's page lists
# A chapter page shows its newest members and links to the list of all of them, which
# shows this many a page: a chapter of thousands would otherwise be rendered whole.
CHAPTER_MEMBERS = 20
MEMBERS_PAGE = 100

LEVEL_LABELS = {
    "local": "Local chapter",
    "regional": "Regional chapter",
    "national": "National chapter",
    "international": "International chapter",
}


def _moment(value: str | datetime) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_date(value: str | datetime) -> str:
    """"2026-11-27T08:00:00Z" (or that moment) -> "27 November 2026": the day in UTC for
    a moment, the day written for a date ("2026-08-25", as minutes give it)."""
    moment = _moment(value)
    if moment is None:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y}"


def day(moment: datetime) -> str:
    """"Saturday 12 September 2026", in the moment's own time zone."""
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def clock(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def human_moment(value: str | datetime) -> str:
    """"2026-12-01T18:00:00Z" (or that moment) -> "1 December 2026, 18:00 UTC"."""
    moment = _moment(value)
    if moment is None:
        return str(value)
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def machine_time(value: str | datetime | None) -> str:
    """A moment for a `<time datetime>` attribute: `2026-11-29T17:47:49Z`."""
    if isinstance(value, datetime):
        return iso(value) or ""
    return value or ""


def create_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    # The seam for English/Esperanto: templates already mark text with _(); catalogues come
    # with the web interface.
    # Added to the Environment at runtime by the i18n extension; jinja2's types lack it.
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = human_date
    env.filters["day"] = day
    env.filters["clock"] = clock
    env.filters["moment"] = human_moment
    env.filters["iso"] = machine_time
    env.filters["level"] = lambda level: LEVEL_LABELS.get(level, level)
    env.filters["paragraphs"] = lambda text: Markup(plain_to_html(text))
    # The like/boost buttons' state on pages that do not compute it (web/reactions.py).
    env.globals["reaction_target"] = reaction_target
    return env


def render(request: web.Request, template: str, **context: object) -> web.Response:
    node = request.app[NODE]
    page = request.app[TEMPLATES].get_template(template).render(
        node=node, viewer=viewer(request), here=request.path_qs, **context)
    return web.Response(text=page, content_type="text/html")


async def render_actor_page(request: web.Request, actor: ActorRecord) -> web.Response:
    db = request.app[DB]
    if actor.kind == "chapter":
        # Chapters of this node can be each other's parent and subchapters too.
        local_prefix = request.app[NODE].urls.actor("")
        return render(
            request,
            "chapter.html",
            chapter=actor,
            members=await store.members(db, chapter_id=actor.id, limit=CHAPTER_MEMBERS),
            member_count=await store.member_count(db, actor.id),
            parent=await hierarchy_store.chapter_ref(db, actor.parent_iri, local_prefix)
            if actor.parent_iri else None,
            subtree=await hierarchy_store.subtree_chapters(db, actor.id,
                                                           local_prefix=local_prefix),
            subtree_minutes=await hierarchy_store.subtree_minutes(db, actor.id),
            **await sections(db, actor.id),
            **await chapter_membership(request, actor.id, actor.handle or ""),
            received=await received_sections(db, actor.id),
        )
    # Notes are kept apart from the items (news, blogs, ...), yet a member writes both.
    posts = await item_views(db, await item_store.latest(db, KINDS, actor.id, MEMBER_POSTS),
                             datetime.now(UTC))
    posts += [note_view(row) for row in await item_store.latest_notes(db, actor.id,
                                                                      MEMBER_POSTS)]
    posts.sort(key=lambda post: post.published, reverse=True)
    return render(
        request,
        "member.html",
        member=actor,
        chapters=await store.member_chapters(db, actor.id),
        posts=posts[:MEMBER_POSTS],
    )


async def home(request: web.Request) -> web.Response:
    db = request.app[DB]
    return render(
        request,
        "home.html",
        chapters=await store.chapters(db, limit=50),
        members=await store.members(db, limit=10),
        **await sections(db, None),
    )


async def chapter_members(request: web.Request) -> web.Response:
    """`/@{handle}/members`: every member of a chapter, newest first, a page at a time."""
    db = request.app[DB]
    chapter = await store.actor_by_handle(db, request.match_info["handle"])
    if chapter is None or chapter.kind != "chapter":
        raise refuse(404, "no such chapter on this node")
    token = request.query.get("cursor")
    try:
        cursor = None if token is None else paging.decode(token, 2)
    except paging.BadCursor as exc:
        raise refuse(400, str(exc)) from None
    members, page = await store.members_page(db, chapter.id, cursor, MEMBERS_PAGE)
    path = request.path
    return render(
        request, "members.html", chapter=chapter, members=members,
        member_count=await store.member_count(db, chapter.id),
        newer=f"{path}?cursor={paging.encode(page.prev)}" if page.prev else None,
        older=f"{path}?cursor={paging.encode(page.next)}" if page.next else None,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/@{handle}/members", chapter_members)
