"""Search across what the node shows: its items and notes, and what subchapters relayed.

The index is kept by triggers (schema 17 on SQLite: FTS5; 12 on PostgreSQL: a tsvector
with a GIN index); this module asks it. What a person typed never reaches either engine's
query language as written: it becomes quoted terms (a word, a "quoted phrase", a -word
to leave out), so that FTS5's syntax (quotes, AND, NEAR, *, -) cannot fail a search.
Titles and snippets come back with the matched words between the index's own markers
(storage/search_text.py START and STOP), which no indexed text can contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from storage.database import Database, Reader
from storage.paging import BadCursor, Cursor, decode, encode
from storage.search_text import START, STOP
from storage.timestamps import parse

PAGE = 20
# Past this, a search is no longer what someone reads page by page: ranked results are
# paged by position, and each page ranks every match again.
DEEPEST = 1000
MAX_QUERY = 200
MAX_TERMS = 12
SNIPPET_WORDS = 24

_CHUNK = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Terms:
    """A search as the index is asked it: phrases (a word is a phrase of one) that must
    all be there, and phrases that must not."""

    wanted: tuple[tuple[str, ...], ...]
    unwanted: tuple[tuple[str, ...], ...]

    def fts5(self) -> str:
        def quoted(phrase: tuple[str, ...]) -> str:
            return '"' + " ".join(phrase) + '"'  # words only: no quote to double
        query = " ".join(quoted(p) for p in self.wanted)
        for phrase in self.unwanted:
            query = f"({query}) NOT {quoted(phrase)}"
        return query

    def websearch(self) -> str:
        return " ".join([f'"{" ".join(p)}"' for p in self.wanted]
                        + [f'-"{" ".join(p)}"' for p in self.unwanted])


def terms(text: str) -> Terms:
    """What someone typed, as terms; nothing wanted when nothing searchable was typed."""
    wanted: list[tuple[str, ...]] = []
    unwanted: list[tuple[str, ...]] = []
    for match in _CHUNK.finditer(text[:MAX_QUERY]):
        negated = bool(match[1] or match[3])
        words = tuple(_WORD.findall(match[2] if match[2] is not None else match[4]))
        if not words or len(wanted) + len(unwanted) >= MAX_TERMS:
            continue
        (unwanted if negated else wanted).append(words)
    return Terms(tuple(wanted), tuple(unwanted) if wanted else ())


@dataclass(frozen=True)
class SearchHit:
    """One result. `title` and `snippet` hold the matched words between START and STOP
    and are otherwise plain text, still to be escaped."""

    kind: str  # news, blog, minutes, event, poll, note, article (a remote article)
    title: str
    snippet: str
    link: str  # a local item's id, or this node's page of a remote object
    chapter: str  # who published it: a chapter (or a member, for their notes)
    chapter_link: str | None
    published: datetime | None
    local: bool


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    next: str | None  # cursors for the next and previous pages
    prev: str | None


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    found = decode(cursor, 1)
    offset = found.keys[0]
    if not found.forward or not isinstance(offset, int) or not 0 < offset <= DEEPEST:
        raise BadCursor("not a cursor of this search")
    return offset


def _cursor(offset: int) -> str | None:
    return encode(Cursor((offset,), True)) if offset > 0 else None


async def search(db: Database, query: str, cursor: str | None = None,
                 limit: int = PAGE) -> SearchPage:
    """The page of results at `cursor` (None: the first), best first. BadCursor for a
    cursor this function did not make."""
    offset = _offset(cursor)
    asked = terms(query)
    if not asked.wanted:
        return SearchPage([], None, None)
    params = {"limit": limit + 1, "offset": offset}
    if db.engine == "postgresql":
        rows = await db.fetchall(
            "SELECT e.id, e.kind,"
            " ts_headline('english', e.title, q, :title_options) AS title,"
            " ts_headline('english', e.body, q, :body_options) AS snippet"
            " FROM (SELECT id, kind, title, body, ts_rank(terms, q) AS score"
            "  FROM search_entries, websearch_to_tsquery('english', :q) q WHERE terms @@ q"
            "  ORDER BY score DESC, id DESC LIMIT :limit OFFSET :offset) e,"
            " websearch_to_tsquery('english', :q) q ORDER BY e.score DESC, e.id DESC",
            params | {
                "q": asked.websearch(),
                "title_options": f"StartSel={START}, StopSel={STOP}, HighlightAll=true",
                "body_options": f"StartSel={START}, StopSel={STOP},"
                                f" MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2},"
                                " MaxFragments=2, FragmentDelimiter=\" … \"",
            })
    else:
        rows = await db.fetchall(
            "SELECT rowid AS id, kind, highlight(search_entries, 0, :start, :stop) AS title,"
            f" snippet(search_entries, 1, :start, :stop, '…', {SNIPPET_WORDS}) AS snippet"
            " FROM search_entries WHERE search_entries MATCH :q"
            # The title counts five times the text.
            " ORDER BY bm25(search_entries, 5.0, 1.0), rowid DESC LIMIT :limit OFFSET :offset",
            params | {"q": asked.fts5(), "start": START, "stop": STOP})
    more = len(rows) > limit
    rows = rows[:limit]
    sources = await _sources(db, [int(r["id"]) for r in rows])
    hits = []
    for row in rows:
        source = sources.get(int(row["id"]))
        if source is None:  # gone between the two reads
            continue
        link, chapter, chapter_link, published, local = source
        hits.append(SearchHit(kind=row["kind"], title=row["title"], snippet=row["snippet"],
                              link=link, chapter=chapter, chapter_link=chapter_link,
                              published=published, local=local))
    deeper = more and offset + limit <= DEEPEST
    return SearchPage(hits, _cursor(offset + limit) if deeper else None,
                      encode(Cursor((offset - limit,), True)) if offset - limit > 0
                      else ("" if offset else None))


_Source = tuple[str, str, str | None, datetime | None, bool]


async def _sources(db: Reader, entries: list[int]) -> dict[int, _Source]:
    """Where each entry of the index comes from: its link, who published it and when."""
    found: dict[int, _Source] = {}
    items = [e // 4 for e in entries if e % 4 == 0]
    notes = [e // 4 for e in entries if e % 4 == 1]
    remote = [e // 4 for e in entries if e % 4 == 2]
    if items:
        for row in await db.fetchall(
                "SELECT i.id, i.object_iri, i.published, a.name, a.handle FROM items i"
                f" JOIN actors a ON a.id = i.actor_id WHERE i.id IN ({_marks(items)})", items):
            found[int(row[0]) * 4] = (row[1], row[3], f"/@{row[4]}", parse(row[2]), True)
    if notes:
        for row in await db.fetchall(
                "SELECT o.id, o.iri, o.published, a.name, a.handle FROM objects o"
                f" JOIN actors a ON a.id = o.actor_id WHERE o.id IN ({_marks(notes)})", notes):
            found[int(row[0]) * 4 + 1] = (row[1], row[3], f"/@{row[4]}", parse(row[2]), True)
    if remote:
        for row in await db.fetchall(
                "SELECT o.id, o.published, o.attributed_to, r.name, r.username"
                " FROM remote_objects o LEFT JOIN remote_actors r ON r.iri = o.attributed_to"
                f" WHERE o.id IN ({_marks(remote)})", remote):
            found[int(row[0]) * 4 + 2] = (
                f"/remote/{row[0]}", row[3] or row[4] or row[2], row[2], parse(row[1]), False)
    return found


def _marks(values: list[int]) -> str:
    return ", ".join("?" * len(values))
