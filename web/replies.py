"""The replies under an object's page, local or remote, a page at a time."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from storage import items as item_store
from storage import paging
from web.errors import refuse
from web.i18n import _
from web.items import reply_view
from web.state import DB

REPLIES_SHOWN = 20  # replies on one page under an object; the rest are a link away


async def reply_section(request: web.Request, iri: str) -> dict[str, Any]:
    """One page of the replies under an object, with links to the pages around it: a
    thread of thousands would otherwise be rendered whole on every view of the page.
    `?replies=` is the cursor of the page shown (the first when absent)."""
    db = request.app[DB]
    token = request.query.get("replies")
    try:
        cursor = None if token is None else paging.decode(token, 1)
    except paging.BadCursor:
        raise refuse(400, _("This link to another page is not one this site made.")) from None
    rows, page = await item_store.replies_page(db, iri, cursor, REPLIES_SHOWN)
    path = request.path
    return {
        "shown": [reply_view(row) for row in rows],
        "total": await item_store.reply_count(db, iri),
        "later": f"{path}?replies={paging.encode(page.next)}#replies" if page.next else None,
        "earlier": (f"{path}?replies={paging.encode(page.prev)}#replies" if page.prev
                    else None),
    }
