"""The organisation's own pages, written in Markdown on the web in one or more languages.

The node's pages (a welcome text for the home page; About, Mission, Vision, Structure ...)
belong to the node's Application actor and are written by its administrators under
/admin/pages; a chapter's (its about page, resources) belong to the chapter and are written
by its organisers (and administrators) under /@{slug}/pages. Anyone reads them at
/pages/{page} and /@{slug}/pages/{page}: the text in the reader's language, else the
node's, else any one there is, saying which. The same URL is the page's ActivityPub id:
asked for AS2, it answers a `Page` with `nameMap`/`contentMap` for every language it has.
Pages are read by servers, never delivered: saving one queues nothing.

Node pages marked for the navigation are linked from every page: the `navigation`
middleware reads them again only when the database's data_version moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from federation.vocab import AS_CONTEXT, PUBLIC
from outbox.items import body_html
from storage import actors as actor_store
from storage import pages as store
from storage.actors import ActorRecord
from storage.database import Conflict
from storage.pages import MAX_BODY, MAX_TITLE, RESERVED, SLUG
from storage.timestamps import iso, now
from web import i18n, page_texts, session
from web.accounts import see_other
from web.actors import as2_response, require_signature
from web.i18n import LANGUAGES, _
from web.negotiation import activity_media_type
from web.page_texts import shown_text
from web.pages import render
from web.state import DB, NODE
from web.workspace import notice, organised

log = structlog.get_logger("chapterhouse.site_pages")

ROUTE_SLUG = "{page:[a-z0-9][a-z0-9-]*}"

POSITIONS = range(-999, 1000)


@dataclass(frozen=True)
class Owner:
    """Whose pages a request is about, and where their pages live on the web."""

    actor: ActorRecord
    chapter: ActorRecord | None  # None: the node's own pages
    manage: str  # the list of pages to edit
    public: str  # the prefix of the pages' public URLs

    def url(self, slug: str) -> str:
        return f"{self.public}/{slug}"


@dataclass
class PageForm:
    slug: str = ""
    position: str = "0"
    in_navigation: bool = False
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> title, body


# --- Who may write

async def _node_owner(request: web.Request) -> Owner | web.Response:
    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next={quote(request.path, safe='/')}")
    if not current.is_admin:
        log.info("node pages refused", path=request.path, member=current.handle)
        return notice(request, _("For administrators"),
                      _("Only the node's administrators write its pages."), 403)
    actor = await actor_store.node_actor(request.app[DB])
    assert actor is not None  # made by `chapterhouse init`
    return Owner(actor, None, "/admin/pages", "/pages")


async def _chapter_owner(request: web.Request) -> Owner | web.Response:
    chapter = await organised(request, "pages")
    if isinstance(chapter, web.Response):
        return chapter
    return Owner(chapter, chapter, f"/@{chapter.handle}/pages", f"/@{chapter.handle}/pages")


async def _owner_of(request: web.Request) -> Owner | web.Response:
    """The chapter in the path (/@{slug}/pages/...), else the node (/admin/pages/...)."""
    if "slug" in request.match_info:
        return await _chapter_owner(request)
    return await _node_owner(request)


# --- Managing

async def page_list(request: web.Request) -> web.Response:
    owner = await _owner_of(request)
    if isinstance(owner, web.Response):
        return owner
    pages = await store.pages_of(request.app[DB], owner.actor.id)
    return render(request, "site_pages.html", owner=owner, pages=pages,
                  csrf_token=session.csrf_token(request),
                  deleted=request.query.get("deleted") == "1")


def _form_page(request: web.Request, owner: Owner, form: PageForm, errors: dict[str, str],
               editing: str | None, status: int = 200) -> web.Response:
    response = render(request, "site_page_form.html", owner=owner, form=form, errors=errors,
                      editing=editing, max_title=MAX_TITLE, max_body=MAX_BODY,
                      csrf_token=session.csrf_token(request))
    response.set_status(status)
    return response


async def new_page_form(request: web.Request) -> web.Response:
    owner = await _owner_of(request)
    if isinstance(owner, web.Response):
        return owner
    wanted = request.query.get("slug", "")
    form = PageForm(slug=wanted if SLUG.fullmatch(wanted) else "")
    return _form_page(request, owner, form, {}, None)


async def edit_page_form(request: web.Request) -> web.Response:
    owner = await _owner_of(request)
    if isinstance(owner, web.Response):
        return owner
    found = await store.page(request.app[DB], owner.actor.id, request.match_info["page"])
    if found is None:
        return _no_such_page(request, owner)
    form = PageForm(slug=found.slug, position=str(found.position),
                    in_navigation=found.in_navigation,
                    texts={code: (text.title, text.body) for code, text in found.texts.items()})
    return _form_page(request, owner, form, {}, found.slug)


def _no_such_page(request: web.Request, owner: Owner) -> web.Response:
    return notice(request, _("No such page"), _("There is no page by that name."), 404,
                  link={"href": owner.manage, "text": _("All pages")})


def _text(posted: Any, name: str, limit: int) -> str:
    value = posted.get(name)
    if not isinstance(value, str):
        return ""
    # PostgreSQL text holds no NUL; other control characters but line breaks go too.
    return "".join(c for c in value[:limit].replace("\r\n", "\n")
                   if c in "\n\t" or (ord(c) >= 32 and ord(c) != 127))


def _read_form(posted: Any, owner: Owner) -> PageForm:
    texts = {}
    for code in LANGUAGES:
        title = " ".join(_text(posted, f"title-{code}", MAX_TITLE * 2).split())
        body = _text(posted, f"body-{code}", MAX_BODY * 2).strip()
        if title or body:
            texts[code] = (title, body)
    return PageForm(slug=_text(posted, "slug", 200).strip().lower(),
                    position=_text(posted, "position", 20).strip() or "0",
                    in_navigation=owner.chapter is None and posted.get("in_navigation") == "yes",
                    texts=texts)


def _check(form: PageForm) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not SLUG.fullmatch(form.slug):
        errors["slug"] = _("A page's address is 1 to 60 small letters, digits and hyphens, "
                           "such as about or mission.")
    elif form.slug in RESERVED:
        errors["slug"] = _("The address %(slug)s is kept for the site's own use; choose "
                           "another.", slug=form.slug)
    try:
        if int(form.position) not in POSITIONS:
            raise ValueError(form.position)
    except ValueError:
        errors["position"] = _("The order is a whole number from -999 to 999.")
    if not form.texts:
        errors["texts"] = _("Write the page in at least one language: a title and a text.")
    for code, (title, body) in form.texts.items():
        if not title:
            errors[f"title-{code}"] = _("Give this language's version a title.")
        elif len(title) > MAX_TITLE:
            errors[f"title-{code}"] = _("A title has at most %(count)d characters.",
                                        count=MAX_TITLE)
        if not body:
            errors[f"body-{code}"] = _("Write this language's text.")
        elif len(body) > MAX_BODY:
            errors[f"body-{code}"] = _("A page's text has at most %(count)d characters.",
                                       count=MAX_BODY)
    return errors


def _texts(form: PageForm) -> list[store.PageText]:
    return [store.PageText(code, title, body, body_html(body))
            for code, (title, body) in form.texts.items()]


async def save_page(request: web.Request) -> web.Response:
    """POST of the form, for a new page (no {page} in the path) or an existing one."""
    owner = await _owner_of(request)
    if isinstance(owner, web.Response):
        return owner
    db = request.app[DB]
    editing = request.match_info.get("page")
    existing = None
    if editing is not None:
        existing = await store.page(db, owner.actor.id, editing)
        if existing is None:
            return _no_such_page(request, owner)
    form = _read_form(await request.post(), owner)
    errors = _check(form)
    if errors:
        log.info("page refused", owner=owner.actor.handle or "node", fields=sorted(errors))
        return _form_page(request, owner, form, errors, editing, 400)
    try:
        async with db.transaction() as tx:
            if existing is None:
                await store.create(tx, owner.actor.id, form.slug, int(form.position),
                                   form.in_navigation, _texts(form), now())
            else:
                await store.update(tx, owner.actor.id, existing.id, form.slug,
                                   int(form.position), form.in_navigation, _texts(form), now())
    except Conflict:
        errors = {"slug": _("Another page already has the address %(slug)s.", slug=form.slug)}
        return _form_page(request, owner, form, errors, editing, 409)
    forget_navigation(request.app)
    log.info("page saved", owner=owner.actor.handle or "node", page=form.slug,
             languages=sorted(form.texts))
    return see_other(owner.url(form.slug))


async def confirm_delete(request: web.Request) -> web.Response:
    """Deleting cannot be undone: the list's button leads here first."""
    owner = await _owner_of(request)
    if isinstance(owner, web.Response):
        return owner
    found = await store.page(request.app[DB], owner.actor.id, request.match_info["page"])
    if found is None:
        return _no_such_page(request, owner)
    return render(request, "site_page_delete.html", owner=owner, page=found,
                  text=shown_text(found, request.app[i18n.NODE_LANGUAGE]),
                  csrf_token=session.csrf_token(request))


async def delete_page(request: web.Request) -> web.Response:
    owner = await _owner_of(request)
    if isinstance(owner, web.Response):
        return owner
    db = request.app[DB]
    found = await store.page(db, owner.actor.id, request.match_info["page"])
    if found is None:
        return _no_such_page(request, owner)
    async with db.transaction() as tx:
        await store.delete(tx, owner.actor.id, found.id)
    forget_navigation(request.app)
    log.info("page deleted", owner=owner.actor.handle or "node", page=found.slug)
    return see_other(f"{owner.manage}?deleted=1")


# --- Reading

def document(page: store.Page, owner_iri: str, url: str, default: str) -> dict[str, Any]:
    """The page as an ActivityPub `Page` of its actor: `name`/`content` in the node's
    language (else the first), and the maps for every language it has."""
    main = default if default in page.texts else sorted(page.texts)[0]
    return {
        "@context": AS_CONTEXT,
        "id": url,
        "type": "Page",
        "attributedTo": owner_iri,
        "url": url,
        "to": [PUBLIC],
        "name": page.texts[main].title,
        "nameMap": {code: text.title for code, text in page.texts.items()},
        "content": page.texts[main].body_html,
        "contentMap": {code: text.body_html for code, text in page.texts.items()},
        "mediaType": "text/html",
        "published": iso(page.published),
        "updated": iso(page.updated),
    }


async def _show(request: web.Request, actor: ActorRecord, chapter: ActorRecord | None,
                public: str) -> web.StreamResponse:
    found = await store.page(request.app[DB], actor.id, request.match_info["page"])
    if found is None or not found.texts:
        response = notice(request, _("No such page"), _("There is no page by that name."), 404)
        response.headers["Vary"] = "Accept"
        return response
    urls = request.app[NODE].urls
    url = urls.base + f"{public}/{found.slug}"
    default = request.app[i18n.NODE_LANGUAGE]
    media_type = activity_media_type(request.headers.get("Accept"))
    if media_type is not None:
        await require_signature(request)
        owner_iri = urls.actor(None if chapter is None else chapter.handle)
        return as2_response(document(found, owner_iri, url, default), media_type)
    text = shown_text(found, default)
    current = session.viewer(request)
    may_edit = current is not None and (
        current.is_admin if chapter is None
        else chapter.handle in {c.handle for c in current.organises})
    response = render(request, "site_page.html", page=found, text=text, chapter=chapter,
                      in_reader_language=text.language == i18n.current().code,
                      # The language named in the reader's: "Esperanto", "la angla".
                      language_name=i18n.current().locale.languages.get(
                          text.language, LANGUAGES.get(text.language, text.language)),
                      edit_url=(f"/admin/pages/{found.slug}/edit" if chapter is None
                                else f"/@{chapter.handle}/pages/{found.slug}/edit")
                      if may_edit else None)
    response.headers["Vary"] = "Accept"
    return response


async def node_page(request: web.Request) -> web.StreamResponse:
    actor = await actor_store.node_actor(request.app[DB])
    assert actor is not None
    return await _show(request, actor, None, "/pages")


async def chapter_page(request: web.Request) -> web.StreamResponse:
    chapter = await actor_store.actor_by_handle(request.app[DB], request.match_info["slug"])
    if chapter is None or chapter.kind != "chapter":
        return notice(request, _("No such chapter"), _("This node has no chapter by that name."),
                      404)
    return await _show(request, chapter, chapter, f"/@{chapter.handle}/pages")


# --- The navigation

_NAVIGATION = web.AppKey("navigation_pages", dict)


def forget_navigation(app: web.Application) -> None:
    app[_NAVIGATION].clear()


@web.middleware
async def navigation(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The node pages linked from every page, read again only after a commit. Not for what
    is never a page: a peer's fetch of an ActivityPub document, a stylesheet."""
    if (request.method not in ("GET", "HEAD") or request.path.startswith("/static/")
            or activity_media_type(request.headers.get("Accept")) is not None):
        return await handler(request)
    db = request.app[DB]
    cache = request.app[_NAVIGATION]
    version = await db.data_version()
    if cache.get("version") != version:
        actor = await actor_store.node_actor(db)
        cache["pages"] = () if actor is None else tuple(
            page for page in await store.pages_of(db, actor.id, navigation_only=True)
            if page.texts)
        cache["version"] = version
    token = page_texts.linked.set((cache["pages"], request.app[i18n.NODE_LANGUAGE]))
    try:
        return await handler(request)
    finally:
        page_texts.linked.reset(token)


def setup(app: web.Application) -> None:
    app[_NAVIGATION] = {}
    app.middlewares.append(navigation)
    app.router.add_get("/admin/pages", page_list)
    app.router.add_get("/admin/pages/new", new_page_form)
    app.router.add_post("/admin/pages/new", save_page)
    app.router.add_get(f"/admin/pages/{ROUTE_SLUG}/edit", edit_page_form)
    app.router.add_post(f"/admin/pages/{ROUTE_SLUG}/edit", save_page)
    app.router.add_get(f"/admin/pages/{ROUTE_SLUG}/delete", confirm_delete)
    app.router.add_post(f"/admin/pages/{ROUTE_SLUG}/delete", delete_page)
    app.router.add_get(f"/pages/{ROUTE_SLUG}", node_page)
    app.router.add_get("/@{slug}/pages", page_list)
    app.router.add_get("/@{slug}/pages/new", new_page_form)
    app.router.add_post("/@{slug}/pages/new", save_page)
    app.router.add_get(f"/@{{slug}}/pages/{ROUTE_SLUG}/edit", edit_page_form)
    app.router.add_post(f"/@{{slug}}/pages/{ROUTE_SLUG}/edit", save_page)
    app.router.add_get(f"/@{{slug}}/pages/{ROUTE_SLUG}/delete", confirm_delete)
    app.router.add_post(f"/@{{slug}}/pages/{ROUTE_SLUG}/delete", delete_page)
    app.router.add_get(f"/@{{slug}}/pages/{ROUTE_SLUG}", chapter_page)
