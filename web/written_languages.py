"""What the forms offer for "written in": an item's language, a chapter's default.

Any language CLDR names in the reader's language may be chosen (an organiser in Galway
writes in Irish), named in the reader's language; the site's own languages come first,
as most items are written in one of them. The codes are those outbox.items validates.
"""

from __future__ import annotations

import re
from functools import cache

from aiohttp import web
from babel import localedata

from web.i18n import LANGUAGES, NODE_LANGUAGE, _, current, language


@cache
def _codes() -> tuple[str, ...]:
    return tuple(code for code in localedata.locale_identifiers()
                 if re.fullmatch(r"[a-z]{2,3}", code))


@cache
def _choices(reader: str) -> tuple[tuple[str, str], ...]:
    names = language(reader).locale.languages
    first = [(code, names.get(code) or LANGUAGES[code]) for code in LANGUAGES]
    rest = sorted(((code, names[code]) for code in _codes()
                   if code in names and code not in LANGUAGES),
                  key=lambda pair: pair[1].casefold())
    return tuple(first + rest)


def choices(selected: str = "") -> list[tuple[str, str]]:
    """(code, name in the reader's language) for a <select>, with `selected` among them
    even if CLDR has no name for it here (it is then shown as its code)."""
    offered = list(_choices(current().code))
    if selected and selected not in {code for code, _name in offered}:
        offered.insert(0, (selected, selected))
    return offered


def name_of(code: str | None) -> str | None:
    """"Esperanto" / "irlanda": a language as the reader calls it; None if unknown."""
    if not code:
        return None
    return current().locale.languages.get(code.split("-")[0].lower()) or code


def node_language(request: web.Request) -> str:
    """The node's `[node] language`: what is written in when nobody said."""
    return request.app[NODE_LANGUAGE]


def posted_language(posted: object) -> str:
    """The form's `language` as sent (validated where the item is), trimmed and short."""
    value = posted.get("language") if hasattr(posted, "get") else None
    return value.strip()[:40] if isinstance(value, str) else ""


def not_a_language() -> str:
    """A form's error for a code that is none (only a hand-made request sends one)."""
    return _("Choose a language from the list.")
