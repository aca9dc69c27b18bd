"""The language an object is written in, as ActivityStreams carries it.

An object says it with language maps next to its plain values: `contentMap` beside
`content`, `nameMap` beside `name`, `summaryMap` beside `summary`, each keyed by a
BCP 47 tag ({"eo": "<p>Saluton</p>"}); Mastodon takes a post's language from the first
key of its contentMap. We write in one language per item, tagged with its two- or
three-letter primary code; what others send may carry several versions, and longer tags
("pt-BR"), of which a page shows the one in its reader's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from babel import localedata

from federation.sanitize import clean_html, clean_text

# Ours: an ISO 639 code CLDR knows ("en", "eo", "ga"); theirs: any well-formed tag.
WRITTEN = re.compile(r"[a-z]{2,3}")
RECEIVED = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")
MAX_TAG = 35
MAX_VERSIONS = 20  # more languages than this on one post is no one's writing
FIELDS = {"content": "contentMap", "name": "nameMap", "summary": "summaryMap"}


def is_language(code: str) -> bool:
    """A primary language code we tag our items with: two or three letters CLDR knows."""
    return bool(WRITTEN.fullmatch(code)) and localedata.exists(code)


def maps(language: str | None, **values: str) -> dict[str, dict[str, str]]:
    """The maps that go beside the plain values: {"contentMap": {"eo": ...}, ...}; none
    when the language is unknown (items from before languages were kept)."""
    if not language:
        return {}
    return {FIELDS[name]: {language: value} for name, value in values.items() if value}


def _clean_map(value: object, clean: Callable[[str], str]) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    kept: dict[str, str] = {}
    for tag, text in value.items():
        if (isinstance(tag, str) and len(tag) <= MAX_TAG and RECEIVED.fullmatch(tag)
                and isinstance(text, str) and len(kept) < MAX_VERSIONS):
            kept[tag] = clean(text)
    return kept or None


def clean_maps(obj: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A received object's language maps, sanitised as their plain values are (content as
    HTML, a summary as text; names are cleaned where they are shown, like `name`); maps
    that are not maps, or keys that are not language tags, are left out."""
    cleaners: dict[str, Callable[[str], str]] = {
        "contentMap": clean_html, "summaryMap": clean_text, "nameMap": lambda text: text}
    found = {}
    for key, clean in cleaners.items():
        cleaned = _clean_map(obj.get(key), clean)
        if cleaned is not None:
            found[key] = cleaned
    return found


def _primary(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def version(document: dict[str, Any], name: str, wanted: str) -> tuple[str | None, str | None]:
    """(text, its language) of field `name` ("content", "name", "summary") for a reader
    of `wanted`: the map's version in that language when there is one ("pt-BR" serves a
    "pt" reader), else the plain value, whose language is the key of the map's version
    that is the same text, else unknown (None: no `lang` is claimed for it)."""
    language_map = document.get(FIELDS[name])
    language_map = language_map if isinstance(language_map, dict) else {}
    tags = [tag for tag, text in language_map.items()
            if isinstance(tag, str) and isinstance(text, str)]
    for tag in tags:
        if _primary(tag) == wanted:
            return language_map[tag], tag
    plain = document.get(name)
    if isinstance(plain, str):
        matching = [tag for tag in tags if language_map[tag] == plain]
        return plain, matching[0] if matching else None
    if tags:
        return language_map[tags[0]], tags[0]
    return None, None
