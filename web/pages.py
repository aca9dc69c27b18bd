"""HTML pages for people: the node's home page and each chapter's and member's page."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
from aiohttp import web
from markupsafe import Markup

from chapterhouse.reasons import N_
from federation.text import plain_to_html
from hierarchy.levels import LEVEL_WORDS
from outbox.items import KINDS
from storage import actors as store
from storage import decisions as decision_store
from storage import hierarchy as hierarchy_store
from storage import items as item_store
from storage import paging
from storage.actors import ActorRecord
from storage.projects import newest_projects
from storage.timestamps import iso
from web import i18n
from web.errors import refuse
from web.items import item_views, note_view, sections
from web.membership import chapter_membership
from web.page_texts import chapter_pages, navigation_links, welcome_text
from web.project_views import status_label
from web.reactions import reaction_target
from web.remote_views import received_sections
from web.session import viewer
from web.state import DB, NODE, TEMPLATES

MEMBER_POSTS = 10  # the newest a member's page lists
# A chapter page shows its newest members and links to the list of all of them, which
# shows this many a page: a chapter of thousands would otherwise be rendered whole.
CHAPTER_MEMBERS = 20
MEMBERS_PAGE = 100
CHAPTER_PROJECTS = 5  # the newest a chapter page lists, linking to all of them
CHAPTER_DECISIONS = 5  # the open ones a chapter page lists, closing soonest first
# The home page's newest chapters and projects; each block links to all of them.
HOME_CHAPTERS = 12
HOME_PROJECTS = 5

# Level names as people read them; worded in the reader's language where shown.
LEVEL_LABELS = {
    "local": N_("Local chapter"),
    "regional": N_("Regional chapter"),
    "national": N_("National chapter"),
    "international": N_("International chapter"),
}
level_label = i18n.lazy_label(LEVEL_LABELS)


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
    # Words, dates and numbers in the language of the request being rendered.
    i18n.install(env)
    env.filters["iso"] = machine_time
    # Markup to put inside a translated sentence as one of its parameters, so that the
    # sentence stays whole for the translator (its text escaped here, once).
    env.globals["time_tag"] = lambda moment, text: Markup(
        '<time datetime="{}">{}</time>').format(machine_time(moment), text)
    env.globals["code_tag"] = lambda text: Markup("<code>{}</code>").format(text)
    env.globals["link_tag"] = lambda href, text, rel=None: (
        Markup('<a href="{}" rel="{}">{}</a>').format(href, rel, text) if rel
        else Markup('<a href="{}">{}</a>').format(href, text))
    env.filters["level"] = level_label
    # "local", "regional": a level as a word inside a sentence, as the hierarchy's
    # refusals word it.
    env.filters["level_word"] = lambda level: (
        i18n.word(LEVEL_WORDS[level]) if level in LEVEL_WORDS else level)
    env.filters["status"] = status_label  # a project's
    env.filters["paragraphs"] = lambda text: Markup(plain_to_html(text))
    # The like/boost buttons' state on pages that do not compute it (web/reactions.py).
    env.globals["reaction_target"] = reaction_target
    # The node pages its administrators link from every page (web/site_pages.py).
    env.globals["navigation_pages"] = navigation_links
    return env


def render(request: web.Request, template: str, **context: object) -> web.Response:
    node = request.app[NODE]
    page = request.app[TEMPLATES].get_template(template).render(
        node=node, viewer=viewer(request), here=request.path_qs, **context)
    # The language switcher on this page leads back here.
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
            projects=await newest_projects(db, actor.id, CHAPTER_PROJECTS),
            decisions=[decision for decision, _part in await decision_store.decisions_of_chapter(
                db, actor.id, CHAPTER_DECISIONS) if decision.is_open],
            chapter_pages=await chapter_pages(db, actor.id,
                                              request.app[i18n.NODE_LANGUAGE]),
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
    """Laid out like the organisation's own site: its welcome text, then what is new."""
    db = request.app[DB]
    return render(
        request,
        "home.html",
        welcome=await welcome_text(request),
        chapters=await store.chapters(db, limit=HOME_CHAPTERS),
        members=await store.members(db, limit=10),
        projects=await newest_projects(db, None, HOME_PROJECTS),
        **await sections(db, None),
    )


async def chapter_members(request: web.Request) -> web.Response:
    """`/@{handle}/members`: every member of a chapter, newest first, a page at a time."""
    db = request.app[DB]
    chapter = await store.actor_by_handle(db, request.match_info["handle"])
    if chapter is None or chapter.kind != "chapter":
        raise refuse(404, i18n.gettext("There is no such chapter on this node."))
    token = request.query.get("cursor")
    try:
        cursor = None if token is None else paging.decode(token, 2)
    except paging.BadCursor:
        raise refuse(400, i18n.gettext("This link to another page is not one this site made.")
                      ) from None
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
