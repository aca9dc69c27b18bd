"""ActivityPub client-to-server: a member's script publishes by posting to an outbox.

Route: POST /actors/{handle}/outbox (the `outbox` of the actor document), with
`Authorization: Bearer <personal access token>` (web/access_tokens.py) and an
ActivityStreams body (outbox/client_objects.py says what is taken). A token acts with
its account's rights: the member's own outbox (blog posts, notes), and the outboxes of
the chapters the member organises (every chapter, for an administrator). The item is
validated as the forms and the CLI validate it, published through the outbox like
theirs (federated, minutes passed up), and answered 201 with the new Create's id as
`Location` (ActivityPub 6).

Only the token authorises: the session middleware skips this route (allow_cross_site),
so a session cookie, which a browser sends along with any site's form, counts for
nothing here, and no CSRF token is asked for.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from actors.accounts import token_hash
from federation import strict_json
from outbox.client_objects import ClientObjectError, NotAllowed, Posted, to_item, unwrap
from outbox.content import publish_item_with_create, written_in
from outbox.publish import PublishError, post_note_with_create
from storage import access_tokens as token_store
from storage import accounts as account_store
from storage import actors as actor_store
from storage.accounts import Account
from storage.timestamps import now
from web.i18n import NODE_LANGUAGE, word
from web.state import DB, NODE

log = structlog.get_logger(__name__)

MEDIA_TYPES = ("application/activity+json", "application/ld+json")
MAX_TOKEN = 100
CHALLENGE = 'Bearer realm="chapterhouse"'


def _refuse(request: web.Request, status: int, reason: str,
            headers: dict[str, str] | None = None) -> web.Response:
    log.info("client post refused", path=request.path, status=status, reason=reason)
    return web.json_response({"error": reason}, status=status, headers=headers)


def _unauthorised(request: web.Request, reason: str, invalid: bool) -> web.Response:
    # RFC 6750 3: no credentials get the bare challenge; bad ones say so.
    challenge = CHALLENGE + (', error="invalid_token"' if invalid else "")
    return _refuse(request, 401, reason, {"WWW-Authenticate": challenge})


async def _account(request: web.Request) -> Account | web.Response:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorised(request, "send a personal access token: Authorization: Bearer"
                             " <token> (make one at /account/tokens)", invalid=False)
    token = token.strip()
    account = None if len(token) > MAX_TOKEN else await token_store.account_for(
        request.app[DB], token_hash(token), now())
    if account is None:
        return _unauthorised(request, "this token is unknown or revoked", invalid=True)
    return account


async def _may_post_as(request: web.Request, account: Account, actor_id: int,
                       kind: str, handle: str) -> bool:
    if kind == "member":
        return actor_id == account.member_id
    if account.is_admin:
        return True
    organised = await account_store.organised_chapters(request.app[DB], account.member_id)
    return handle in {c.handle for c in organised}


async def post_to_outbox(request: web.Request) -> web.Response:
    found = await _account(request)
    if isinstance(found, web.Response):
        return found
    account = found
    db, node = request.app[DB], request.app[NODE]
    actor = await actor_store.actor_by_handle(db, request.match_info["handle"])
    if actor is None or actor.handle is None or actor.kind not in ("member", "chapter"):
        return _refuse(request, 404, "there is no chapter or member by that name here")
    handle = actor.handle
    if not await _may_post_as(request, account, actor.id, actor.kind, handle):
        what = "your own outbox" if actor.kind == "member" else "the chapters you organise"
        return _refuse(request, 403, f"{account.handle} may not publish as {handle}:"
                       f" a token publishes in {what}" + (
                           "" if actor.kind == "member" else " and your own outbox"))
    media_type = request.content_type.lower()
    if media_type not in MEDIA_TYPES:
        return _refuse(request, 415, "send application/activity+json or application/ld+json")
    try:
        body = await request.read()
    except web.RequestPayloadError:
        # A body that does not decode (Content-Encoding, chunking): nothing after it can be
        # trusted to start a request, so the connection closes after the answer.
        response = _refuse(request, 400, "the body cannot be read")
        response.force_close()
        return response
    try:
        document = strict_json.loads(body)
        obj = unwrap(document, node.urls.actor(handle))
        posted = to_item(obj, is_chapter=actor.kind == "chapter")
    except strict_json.BadJson as exc:
        return _refuse(request, 400, f"not JSON we take: {exc}")
    except ClientObjectError as exc:
        return _refuse(request, 400, str(exc))
    except NotAllowed as exc:
        return _refuse(request, 403, str(exc))
    try:
        # publish_item validates as the forms and the CLI do; its reason is the answer.
        object_id, activity_id = await _publish(request, handle, posted)
    except PublishError as exc:
        # validate()'s reason, in the language the client asks for (English by default).
        return _refuse(request, 422, word(exc))
    log.info("client post published", actor=handle, by=account.handle, object=object_id)
    return web.json_response({"id": activity_id, "object": object_id}, status=201,
                             headers={"Location": activity_id})


async def _publish(request: web.Request, handle: str, posted: Posted) -> tuple[str, str]:
    db, urls = request.app[DB], request.app[NODE].urls
    # Unsaid, the language is the chapter's, as on the forms and the CLI.
    language = posted.language or await written_in(db, handle, request.app[NODE_LANGUAGE])
    if posted.item is None:
        return await post_note_with_create(db, urls, handle, posted.note, language)
    posted.item.language = language
    return await publish_item_with_create(db, urls, handle, posted.item)


def setup(app: web.Application) -> None:
    app.router.add_post("/actors/{handle}/outbox", post_to_outbox)
