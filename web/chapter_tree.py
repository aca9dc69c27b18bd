"""`/chapters`: every chapter the node knows, as a tree by level, filterable by level and
by place.

International chapters hold national ones, which hold regional ones, which hold local
ones; each chapter is drawn under the chapter above it when we know that one too, else at
the top. A filtered view keeps the chapters that match and, to say where they are, the
chapters above them (drawn as context, not as matches).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from markupsafe import Markup

from hierarchy.levels import LEVEL_WORDS
from storage import chapter_tree as store
from storage.chapter_tree import KnownChapter
from web import i18n
from web.errors import refuse
from web.pages import level_label, render
from web.state import DB, NODE, TEMPLATES

log = structlog.get_logger("chapterhouse.http")

LEVELS = ("international", "national", "regional", "local")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
PLACE_LONGEST = 100
# Trees as last drawn, by filter, with the database's data_version: 5,000 chapters take
# about 0.3 s to read and draw, the same bytes while nothing is committed.
_DRAWN = web.AppKey("drawn_chapter_trees", OrderedDict)
DRAWN_KEPT = 32


@dataclass
class Branch:
    chapter: KnownChapter
    matches: bool  # False: shown only as the way to a chapter that matches
    children: list[Branch] = field(default_factory=list)

    @property
    def link(self) -> str:
        chapter = self.chapter
        return f"/@{chapter.handle}" if chapter.handle else chapter.url or chapter.iri


@dataclass(frozen=True)
class Filter:
    level: str | None
    place: str | None

    @property
    def active(self) -> bool:
        return bool(self.level or self.place)

    def matches(self, chapter: KnownChapter) -> bool:
        if self.level and chapter.level != self.level:
            return False
        return not self.place or self.place.lower() in (chapter.location or "").lower()


def _sort_key(branch: Branch) -> tuple[int, str, str]:
    chapter = branch.chapter
    return (_RANK.get(chapter.level or "", len(LEVELS)), chapter.name.lower(), chapter.iri)


def tree(chapters: list[KnownChapter], wanted: Filter) -> list[Branch]:
    """The chapters as branches under their parents, the top ones first by level and each
    list by level and name; with a filter, only the matches and the chapters above them."""
    by_iri = {chapter.iri: chapter for chapter in chapters}
    keep: dict[str, bool] = {}  # iri -> matches
    for chapter in chapters:
        if not wanted.matches(chapter):
            continue
        keep[chapter.iri] = True
        # The way up, for a filtered view to name where a match sits; a loop in what
        # peers claim stops at the first chapter seen twice.
        seen = {chapter.iri}
        parent = by_iri.get(chapter.parent_iri or "")
        while parent is not None and parent.iri not in seen:
            keep.setdefault(parent.iri, False)
            seen.add(parent.iri)
            parent = by_iri.get(parent.parent_iri or "")
    branches = {iri: Branch(by_iri[iri], matches) for iri, matches in keep.items()}
    roots: list[Branch] = []
    for iri, branch in branches.items():
        above = branches.get(branch.chapter.parent_iri or "")
        if above is not None and above is not branch and not _below(above, iri, branches):
            above.children.append(branch)
        else:
            roots.append(branch)
    for branch in branches.values():
        branch.children.sort(key=_sort_key)
    roots.sort(key=_sort_key)
    return roots


def _below(branch: Branch, iri: str, branches: dict[str, Branch]) -> bool:
    """Whether `branch` is below the chapter `iri` (hanging it there would close a loop)."""
    seen: set[str] = set()
    parent = branch.chapter.parent_iri
    while parent and parent not in seen:
        if parent == iri:
            return True
        seen.add(parent)
        above = branches.get(parent)
        parent = above.chapter.parent_iri if above is not None else None
    return False


def count(branches: list[Branch]) -> int:
    """How many matching chapters the branches hold."""
    return sum(int(branch.matches) + count(branch.children) for branch in branches)


def _filter(request: web.Request) -> Filter:
    level = request.query.get("level", "").strip()
    place = " ".join(request.query.get("place", "").split())
    if level and level not in LEVELS:
        log.info("chapters: bad level", level=level[:40])
        raise refuse(400, i18n.gettext("Choose a level of %(levels)s, or nothing for all.",
                                       levels=", ".join(i18n.word(LEVEL_WORDS[name])
                                                        for name in LEVELS)))
    if len(place) > PLACE_LONGEST:
        raise refuse(400, i18n.ngettext("A place has at most %(num)d character.",
                                        "A place has at most %(num)d characters.",
                                        PLACE_LONGEST))
    if any(ord(c) < 32 or ord(c) == 127 for c in place):
        raise refuse(400, i18n.gettext("A place is text without control characters."))
    return Filter(level=level or None, place=place or None)


@dataclass(frozen=True)
class Drawn:
    html: Markup
    found: int  # chapters that match (all of them without a filter)


async def _drawn(request: web.Request, wanted: Filter) -> Drawn:
    db = request.app[DB]
    cache: OrderedDict[tuple[str | None, ...], tuple[int, Drawn]] = request.app[_DRAWN]
    # The tree is drawn in the reader's language and zone (level names, founding dates):
    # one drawing per language and zone, or the first reader's would be everyone's.
    reader = i18n.current()
    key = (reader.code, reader.zone_name, wanted.level,
           wanted.place.lower() if wanted.place else None)
    version = await db.data_version()
    found = cache.get(key)
    if found is not None and found[0] == version:
        cache.move_to_end(key)
        return found[1]
    branches = tree(await store.known_chapters(db, request.app[NODE].urls.actor("")), wanted)
    html = request.app[TEMPLATES].get_template("chapter_tree.html").render(branches=branches)
    drawn = Drawn(Markup(html), count(branches))
    cache[key] = (version, drawn)
    cache.move_to_end(key)
    while len(cache) > DRAWN_KEPT:
        cache.popitem(last=False)
    return drawn


async def chapters_page(request: web.Request) -> web.Response:
    wanted = _filter(request)
    return render(request, "chapters.html", drawn=await _drawn(request, wanted),
                  wanted=wanted, levels=[(level, level_label(level)) for level in LEVELS])


def setup(app: web.Application) -> None:
    app[_DRAWN] = OrderedDict()
    app.router.add_get("/chapters", chapters_page)
