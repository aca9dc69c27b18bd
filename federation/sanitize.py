"""Remote HTML, cleaned before it is stored or shown (nh3: the ammonia sanitiser).

The allowed set follows what Mastodon keeps, so a post looks the same here and there.
"""

from __future__ import annotations

import nh3

TAGS = {"p", "br", "span", "a", "del", "s", "pre", "code", "em", "strong", "b", "i", "u",
        "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
        # Markdown tables in minutes (attendance, votes); Mastodon flattens them itself.
        "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "class"}, "span": {"class"}, "ol": {"start", "reversed"},
              "li": {"value"}}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_HTML = 100_000


def clean_html(html: str) -> str:
    return nh3.clean(
        html[:MAX_HTML], tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )


def clean_text(text: str, limit: int = 2000) -> str:
    """Plain text from something that may hold markup (a summary, a name)."""
    return nh3.clean(text[:limit], tags=set())
