"""The node's delivery queue, for its administrators: what waits for which host, what
failed and why, and "retry now".

Routes: GET /admin/deliveries (?host= narrows the failures to one host, ?before= pages
back through them), POST /admin/deliveries/retry (host= optional). Retrying does what
`chapterhouse deliveries retry` does: deliveries still waiting become due now and the
hosts' failures are forgotten; failed (dead) deliveries stay failed, as in the CLI. The
commit notifies the queue channel, which wakes the delivery worker of every process on
the database, this one's too. The session middleware has checked the POST's origin and
CSRF token.
"""

from __future__ import annotations

from urllib.parse import quote

import structlog
from aiohttp import web

from storage import delivery_queue as queue
from storage import outbox as outbox_store
from storage.timestamps import now
from web import session
from web.accounts import see_other
from web.i18n import _, ngettext
from web.pages import render
from web.session import Viewer
from web.state import DB

log = structlog.get_logger(__name__)

PATH = "/admin/deliveries"
FAILED_PAGE = 50
MAX_HOSTS = 500  # shown at once; a node federating with more has a long page anyway
MAX_HOST = 300  # host[:port]


def _notice(request: web.Request, heading: str, message: str, status: int,
            link: dict[str, str] | None = None) -> web.Response:
    if status >= 400:
        log.info("delivery queue refused", path=request.path, status=status, reason=message)
    response = render(request, "notice.html", heading=heading, message=message, link=link)
    response.set_status(status)
    return response


def _administrator(request: web.Request, back: str) -> Viewer | web.Response:
    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next={quote(back, safe='/?=&')}")
    if not current.is_admin:
        return _notice(request, _("For administrators"),
                       _("Only the node's administrators see and retry its delivery queue."),
                       403)
    return current


def _host(value: object) -> str | None:
    """A host[:port] as deliveries store it (lower case), or None for none given."""
    if not isinstance(value, str) or not value.strip():
        return None
    host = value.strip().lower()[:MAX_HOST]
    return host if all(32 < ord(c) < 127 for c in host) else ""


async def page(request: web.Request) -> web.Response:
    found = _administrator(request, request.path_qs)
    if isinstance(found, web.Response):
        return found
    host = _host(request.query.get("host"))
    raw_before = request.query.get("before", "")
    before = None
    if raw_before:
        if not (raw_before.isascii() and raw_before.isdigit() and len(raw_before) <= 18):
            return _notice(request, _("No such page"),
                           _("That page of failures does not exist."), 400,
                           link={"href": PATH, "text": _("The delivery queue")})
        before = int(raw_before)
    db = request.app[DB]
    hosts = await queue.hosts(db)
    failures, next_before = await queue.failed(db, host, before, FAILED_PAGE) \
        if host != "" else ([], None)
    return render(request, "admin_deliveries.html", hosts=hosts[:MAX_HOSTS],
                  more_hosts=max(len(hosts) - MAX_HOSTS, 0), host=host, failures=failures,
                  next_before=next_before, paged=before is not None,
                  fanouts=await outbox_store.pending_fanouts(db),
                  csrf_token=session.csrf_token(request))


async def retry(request: web.Request) -> web.Response:
    found = _administrator(request, PATH)
    if isinstance(found, web.Response):
        return found
    form = await request.post()
    host = _host(form.get("host"))
    if host == "":
        return _notice(request, _("No such host"), _("That is not a host name."), 400,
                       link={"href": PATH, "text": _("The delivery queue")})
    count = await outbox_store.retry_now(request.app[DB], now(), host)
    log.info("deliveries retried", host=host, count=count, by=found.handle)
    if host:
        what = ngettext("%(num)d waiting delivery is due now for %(host)s.",
                        "%(num)d waiting deliveries are due now for %(host)s.", count,
                        host=host)
    else:
        what = ngettext("%(num)d waiting delivery is due now.",
                        "%(num)d waiting deliveries are due now.", count)
    return _notice(request, _("Retrying"), what, 200,
                   link={"href": PATH, "text": _("The delivery queue")})


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, page)
    app.router.add_post(f"{PATH}/retry", retry)
