"""The headers that tell a browser what a response may do: every response, pages or not.

They are set as each response is prepared (aiohttp's `on_response_prepare`), not in a
middleware: a signal sees every response of the app whatever raised it and in whatever
order the middlewares run: error pages, redirects raised past `handle_errors`, aiohttp's
own 404 and 405, static files. A middleware would miss whatever a middleware outside it
returns or raises.

The policy goes on every response, not only on `text/html` ones: a redirect, a plain-text
refusal or a JSON document is still a document when a browser opens it, and the policy is
the one it should have then too. Peers ignore it; nosniff is what they need.
"""

from __future__ import annotations

from aiohttp import web

# No inline script or style anywhere (tests/web/test_security_headers.py reads the
# templates to keep it so), no plugins, no framing. Images may come from https: chapter
# icons and avatars of remote actors live on other servers.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' https: data:",
    "font-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",  # no form of ours can be framed and clicked through
    "base-uri 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Browsers too old for frame-ancestors know this one.
    "X-Frame-Options": "DENY",
    # A member's upload or a remote actor's text served as text/plain or JSON must never
    # be guessed to be HTML and run.
    "X-Content-Type-Options": "nosniff",
    # The full URL stays on this node: page URLs carry paging cursors, and will carry
    # one-time tokens (password links); other sites learn nothing, not even the origin.
    "Referrer-Policy": "same-origin",
}


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    # A handler that sets one of these itself (say, a stricter policy for an uploaded
    # file) keeps its own.
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_headers)
