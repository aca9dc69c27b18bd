"""What the search index keeps of a text: plain words, without the two characters that
mark a match in a snippet.

The index (schema 17 on SQLite, 12 on PostgreSQL) is filled by triggers; on SQLite they
call this as `ch_search_text(text, form)`, on PostgreSQL a SQL function of the same
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


# Markdown's marks, as the PostgreSQL function leaves them out: a block's leading `#`,
# `>`, list bullet or number; a link or image reduced to its text; emphasis and code marks.
_BLOCK_MARK = re.compile(r"^[ \t]{0,3}(?:#{1,6}|>|[-*+]|[0-9]+[.)])[ \t]+", re.MULTILINE)
_LINK = re.compile(r"!?\[([^]\n]*)\]\([^)\n]*\)")
_EMPHASIS = re.compile(r"\*\*|__|[*`]")

PLAIN, HTML, MARKDOWN = 0, 1, 2


def search_text(text: str | None, form: int | bool = PLAIN) -> str:
    """Plain words of a text that is plain (0), HTML (1) or Markdown (2)."""
    if not text:
        return ""
    if form == HTML:
        text = html.unescape(_TAG.sub(" ", text))
    elif form == MARKDOWN:
        text = _EMPHASIS.sub("", _LINK.sub(r"\1", _BLOCK_MARK.sub("", text)))
    text = text.replace(START, "").replace(STOP, "")
    return _SPACE.sub(" ", text).strip()
