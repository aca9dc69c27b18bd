"""Every refusal is a clear 4xx with a one-line reason; nothing leaks a traceback."""

from __future__ import annotations

import json
import time

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from chapterhouse.reasons import N_
from web.i18n import _
from web.negotiation import activity_media_type
from web.session import viewer
from web.state import NODE, TEMPLATES

log = structlog.get_logger("chapterhouse.http")


_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    404: web.HTTPNotFound,
    503: web.HTTPServiceUnavailable,
}


def refuse(status: int, reason: str, **kwargs: object) -> web.HTTPException:
    """An HTTP error whose body is `reason`; raise it from a handler."""
    # aiohttp types each keyword it takes (headers, content_type, ...); passed through as
    # given, they cannot be checked against it here.
    return _ERRORS[status](text=reason, **kwargs)  # type: ignore[arg-type]


# What aiohttp answers by itself ("404: Not Found" for a path no route takes), worded.
_STATUS_REASONS = {
    400: N_("The request cannot be read."),
    404: N_("There is no such page on this site."),
    405: N_("This page does not take that kind of request."),
    413: N_("What was sent is too large."),
}


def _reason(exc: web.HTTPException) -> str:
    text = exc.text or ""
    if not text or text.startswith(f"{exc.status}:"):
        return _(_STATUS_REASONS[exc.status]) if exc.status in _STATUS_REASONS \
            else exc.reason
    return text.splitlines()[0]


def _page(request: web.Request, status: int, reason: str) -> str:
    """The error inside the site's own header (who is logged in, the way home); a bare
    page when drawing that header is what failed."""
    templates = request.app[TEMPLATES]
    try:
        return templates.get_template("error.html").render(
            status=status, reason=reason, node=request.app[NODE], viewer=viewer(request),
            here=request.path_qs)
    except Exception:
        log.exception("error page failed", status=status)
        return templates.get_template("error_bare.html").render(status=status, reason=reason)


def error_response(request: web.Request, status: int, reason: str) -> web.Response:
    wants_html = activity_media_type(request.headers.get("Accept")) is None and "text/html" in (
        request.headers.get("Accept") or ""
    )
    if wants_html:
        return web.Response(status=status, text=_page(request, status, reason),
                            content_type="text/html")
    return web.Response(
        status=status,
        text=json.dumps({"error": reason}),
        content_type="application/json",
    )


@web.middleware
async def handle_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        reason = _reason(exc)
        log.info("request refused", method=request.method, path=request.path,
                 status=status, reason=reason)
        response = error_response(request, exc.status, reason)
        for header in ("Allow", "Retry-After"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception:
        log.exception("request failed", method=request.method, path=request.path)
        return error_response(request, 500,
                              _("Something went wrong on this node; its log has the details."))
    finally:
        log.debug("request", method=request.method, path=request.path, status=status,
                  ms=round((time.perf_counter() - started) * 1000, 2))
