"""Content negotiation: one URL, HTML for browsers and AS2 JSON for servers."""

from __future__ import annotations

from federation.vocab import AS2_MEDIA_TYPE, LD_MEDIA_TYPE

_AS2_RANGES = {
    "application/activity+json": AS2_MEDIA_TYPE,
    "application/ld+json": LD_MEDIA_TYPE,
    "application/json": AS2_MEDIA_TYPE,
}
_HTML_RANGES = {"text/html", "application/xhtml+xml"}


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for item in accept.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        if not media_type:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append((media_type.lower(), quality))
    return ranges


def activity_media_type(accept: str | None) -> str | None:
    """The AS2 media type to answer with, or None when HTML is the better answer.

    Only an explicit AS2 type selects JSON; wildcards (`*/*`, what curl and many browsers
    send) count for HTML, so a person following a link always gets a page.
    """
    if not accept:
        return None
    best_as2, as2_quality, html_quality = None, 0.0, 0.0
    for media_type, quality in _media_ranges(accept):
        if media_type in _AS2_RANGES and quality > as2_quality:
            best_as2, as2_quality = _AS2_RANGES[media_type], quality
        elif media_type in _HTML_RANGES or media_type in ("text/*", "*/*"):
            html_quality = max(html_quality, quality)
    if best_as2 is not None and as2_quality >= html_quality:
        return best_as2
    return None
