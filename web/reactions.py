"""What a logged-in member's buttons under an object show: whether they liked or boosted
it, and its counts (the `action_target` of web/templates/item_actions.html).

Page handlers call `action_target(request, iri)` and pass the result. A page that does not
(the partial is included by pages of other parts) gets the jinja global
`reaction_target(iri)`, which reads the viewer's own reactions that the `preload`
middleware put in a context variable for GETs under /remote/ and /objects/.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from storage import reactions as store
from storage.outbox import reaction_counts
from web.session import viewer
from web.state import DB

# Pages whose object the buttons act on: a member's own reactions are read for them only.
PRELOADED = ("/remote/", "/objects/")
# The newest reactions of a member the middleware reads; older ones show as not given
# (pressing Like again changes nothing: likes are idempotent).
PRELOAD_LIMIT = 500

_mine: contextvars.ContextVar[dict[str, set[str]] | None] = contextvars.ContextVar(
    "member_reactions", default=None)


@dataclass(frozen=True)
class ActionTarget:
    iri: str
    liked: bool = False
    boosted: bool = False
    likes: int | None = None  # None: not counted here (a remote object's own server counts)
    boosts: int | None = None
    known: bool = False  # whether liked/boosted were read for this viewer


async def action_target(request: web.Request, iri: str, local: bool = True) -> ActionTarget:
    """The buttons' state for `iri` and this request's viewer; counts for a local object."""
    db = request.app[DB]
    counts = await reaction_counts(db, iri) if local else None
    current = viewer(request)
    kinds = set() if current is None else await store.kinds_of(db, current.member_id, iri)
    return ActionTarget(
        iri=iri, liked="like" in kinds, boosted="announce" in kinds,
        likes=None if counts is None else counts["like"],
        boosts=None if counts is None else counts["announce"], known=current is not None)


def reaction_target(iri: str) -> ActionTarget:
    """The jinja global: the state the middleware read, or unknown."""
    mine = _mine.get()
    if mine is None:
        return ActionTarget(iri=str(iri))
    kinds = mine.get(str(iri), set())
    return ActionTarget(iri=str(iri), liked="like" in kinds, boosted="announce" in kinds,
                        known=True)


@web.middleware
async def preload(request: web.Request, handler: Handler) -> web.StreamResponse:
    current = viewer(request)
    if current is None or request.method != "GET" or not request.path.startswith(PRELOADED):
        return await handler(request)
    rows = await store.recent_of(request.app[DB], current.member_id, PRELOAD_LIMIT)
    mine: dict[str, set[str]] = {}
    for iri, kind in rows:
        mine.setdefault(iri, set()).add(kind)
    token = _mine.set(mine)
    try:
        return await handler(request)
    finally:
        _mine.reset(token)
