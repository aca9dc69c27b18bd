"""`/search?q=...`: everything on the node, its own and what subchapters relayed, best
match first, with the matched words highlighted.

The storage layer marks matches with characters that no indexed text contains
(storage/search_text.py); here everything is escaped first and only then do those
markers become <mark>, so a text that says "<mark>" shows as that text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup, escape

from storage.paging import BadCursor
from storage.search import MAX_QUERY, SearchHit, search
from storage.search_text import START, STOP
from web.errors import refuse
from web.i18n import _
from web.pages import render
from web.state import DB


def highlighted(text: str) -> Markup:
    return Markup(str(escape(text)).replace(START, "<mark>").replace(STOP, "</mark>"))


@dataclass(frozen=True)
class HitView:
    kind: str
    title: Markup
    snippet: Markup
    link: str
    chapter: str
    chapter_link: str | None
    published: datetime | None


def _view(hit: SearchHit) -> HitView:
    return HitView(kind=hit.kind, title=highlighted(hit.title), snippet=highlighted(hit.snippet),
                   link=hit.link, chapter=hit.chapter,
                   chapter_link=hit.chapter_link if hit.local else None,
                   published=hit.published)


async def search_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    cursor = request.query.get("cursor")
    if not query:
        return render(request, "search.html", query="", hits=None, more=None, back=None)
    try:
        page = await search(request.app[DB], query, cursor)
    except BadCursor:
        raise refuse(400, _("This link to more results is not one this site made.")) from None
    base = f"/search?{urlencode({'q': query})}"
    return render(
        request, "search.html", query=query, hits=[_view(hit) for hit in page.hits],
        more=f"{base}&cursor={page.next}" if page.next else None,
        back=None if page.prev is None else (f"{base}&cursor={page.prev}" if page.prev
                                             else base),
        first=not cursor)


def setup(app: web.Application) -> None:
    app.router.add_get("/search", search_page)
