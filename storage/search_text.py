"""What the search index keeps of a text: plain words, without the two characters that
mark a match in a snippet.

The index (schema 17 on SQLite, 12 on PostgreSQL) is filled by triggers; on SQLite they
call this as `ch_search_text(text, is_html)`, on PostgreSQL a SQL function of the same
name does the same. A marker character can then never come from an item's text: a
snippet's markers are the index's own, and escaping the rest cannot be undone by text
that says "<mark>" or holds a marker.
"""

from __future__ import annotations

import html
import re

# Private-use characters: no text needs them, and escaping leaves them as they are.
START = "\ue000"
STOP = "\ue001"

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def search_text(text: str | None, is_html: int | bool = False) -> str:
    if not text:
        return ""
    if is_html:
        text = html.unescape(_TAG.sub(" ", text))
    text = text.replace(START, "").replace(STOP, "")
    return _SPACE.sub(" ", text).strip()
