"""Which version of one of the organisation's pages a reader is shown, for the pages that
show them (the page itself, the home page's welcome text, a chapter's list of pages)
without importing the page routes."""

from __future__ import annotations

import contextvars

from aiohttp import web

from storage import actors as actor_store
from storage import pages as store
from storage.database import Reader
from web import i18n
from web.state import DB

WELCOME = "welcome"  # the node page shown at the top of the home page
# The node pages linked from the navigation, for the request being served (set by the
# web/site_pages.py middleware, with the node's language; none outside a request).
linked: contextvars.ContextVar[tuple[tuple[store.Page, ...], str]] = contextvars.ContextVar(
    "navigation_pages", default=((), i18n.SOURCE))


def shown_text(page: store.Page, default: str) -> store.PageText:
    """The version for this reader: their language, else the node's, else the first."""
    for code in (i18n.current().code, default, *sorted(page.texts)):
        if code in page.texts:
            return page.texts[code]
    raise LookupError(page.slug)  # a page always has a text: the form refuses none


async def chapter_pages(db: Reader, chapter_id: int, default: str) -> list[tuple[str, str]]:
    """(slug, title in the reader's language, else `default`'s) of a chapter's pages."""
    return [(page.slug, shown_text(page, default).title)
            for page in await store.pages_of(db, chapter_id) if page.texts]


async def welcome_text(request: web.Request) -> store.PageText | None:
    """The node's welcome text for the home page, in the reader's language if written."""
    db = request.app[DB]
    actor = await actor_store.node_actor(db)
    found = None if actor is None else await store.page(db, actor.id, WELCOME)
    if found is None or not found.texts:
        return None
    return shown_text(found, request.app[i18n.NODE_LANGUAGE])




def navigation_links() -> list[tuple[str, str]]:
    """(path, title in the reader's language) of the node pages in the navigation."""
    pages, default = linked.get()
    return [(f"/pages/{page.slug}", shown_text(page, default).title) for page in pages]
