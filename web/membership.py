"""What the chapter page offers the viewer: join, ask to join, pending, member (and
leave), and for its organisers the requests waiting."""

from __future__ import annotations

from aiohttp import web

from storage import joins as store
from web import session
from web.state import DB


async def chapter_membership(request: web.Request, chapter_id: int,
                             handle: str) -> dict[str, object]:
    current = session.viewer(request)
    if current is None:
        return {"join_state": "visitor", "requests_waiting": None}
    db = request.app[DB]
    if await store.is_member(db, current.member_id, chapter_id):
        state = "member"
    elif await store.member_request_pending(db, chapter_id, current.member_id):
        state = "pending"
    else:
        state = "other"
    organiser = current.is_admin or handle in {c.handle for c in current.organises}
    return {"join_state": state,
            "requests_waiting": await store.pending_count(db, chapter_id) if organiser else None}
