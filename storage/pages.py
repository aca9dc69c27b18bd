"""The organisation's own pages: the node's (welcome, About, Mission, ...) and each
chapter's (about, resources), each with a text in one or more languages.

A page belongs to an actor (the node's Application actor or a chapter) and is named by a
slug under it. Its texts are replaced whole when it is saved: the form shows every
language at once, so what it sends is the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from storage.database import Reader, Row, Tx
from storage.timestamps import at

# What a page's address (its slug) may be, for the web form and the CLI alike.
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?")
RESERVED = frozenset({"new"})  # /…/pages/new is the form for a new page
MAX_TITLE = 200
MAX_BODY = 50000


@dataclass(frozen=True)
class PageText:
    language: str
    title: str
    body: str  # Markdown, as written
    body_html: str  # sanitised when saved


@dataclass(frozen=True)
class Page:
    id: int
    actor_id: int
    slug: str
    position: int
    in_navigation: bool
    published: datetime
    updated: datetime
    texts: dict[str, PageText] = field(default_factory=dict)  # by language code


_SELECT = ("SELECT id, actor_id, slug, position, in_navigation, published, updated"
           " FROM pages")


def _page(row: Row, texts: dict[str, PageText]) -> Page:
    return Page(id=int(row[0]), actor_id=int(row[1]), slug=row[2], position=int(row[3]),
                in_navigation=bool(row[4]), published=at(row[5]), updated=at(row[6]),
                texts=texts)


async def _with_texts(db: Reader, rows: Sequence[Row]) -> list[Page]:
    if not rows:
        return []
    ids = [int(row[0]) for row in rows]
    marks = ", ".join("?" for _ in ids)
    found: dict[int, dict[str, PageText]] = {page_id: {} for page_id in ids}
    for text in await db.fetchall(
            "SELECT page_id, language, title, body, body_html FROM page_texts"
            f" WHERE page_id IN ({marks}) ORDER BY page_id, language", ids):
        found[int(text[0])][text[1]] = PageText(text[1], text[2], text[3], text[4])
    return [_page(row, found[int(row[0])]) for row in rows]


async def pages_of(db: Reader, actor: int, navigation_only: bool = False) -> list[Page]:
    """An actor's pages in their order (a few dozen at most: people write them by hand)."""
    only = " AND in_navigation = ?" if navigation_only else ""
    params: list[object] = [actor, True] if navigation_only else [actor]
    rows = await db.fetchall(
        f"{_SELECT} WHERE actor_id = ?{only} ORDER BY position, slug", params)
    return await _with_texts(db, rows)


async def page(db: Reader, actor: int, slug: str) -> Page | None:
    if "\x00" in slug:
        return None
    row = await db.fetchone(f"{_SELECT} WHERE actor_id = ? AND slug = ?", (actor, slug))
    if row is None:
        return None
    return (await _with_texts(db, [row]))[0]


async def page_by_id(db: Reader, actor: int, page_id: int) -> Page | None:
    row = await db.fetchone(f"{_SELECT} WHERE actor_id = ? AND id = ?", (actor, page_id))
    if row is None:
        return None
    return (await _with_texts(db, [row]))[0]


async def _replace_texts(tx: Tx, page_id: int, texts: Sequence[PageText]) -> None:
    await tx.execute("DELETE FROM page_texts WHERE page_id = ?", (page_id,))
    await tx.executemany(
        "INSERT INTO page_texts (page_id, language, title, body, body_html)"
        " VALUES (?, ?, ?, ?, ?)",
        [(page_id, text.language, text.title, text.body, text.body_html) for text in texts])


async def create(tx: Tx, actor: int, slug: str, position: int, in_navigation: bool,
                 texts: Sequence[PageText], when: datetime) -> int:
    """A new page; raises storage.database.Conflict when the actor has one by that slug."""
    page_id = await tx.insert(
        "INSERT INTO pages (actor_id, slug, position, in_navigation, published, updated)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (actor, slug, position, in_navigation, when, when))
    await _replace_texts(tx, page_id, texts)
    return page_id


async def update(tx: Tx, actor: int, page_id: int, slug: str, position: int,
                 in_navigation: bool, texts: Sequence[PageText], when: datetime) -> bool:
    """The page as the form sent it; False when the actor has no such page. Raises
    Conflict when the new slug is another page's."""
    changed = await tx.execute(
        "UPDATE pages SET slug = ?, position = ?, in_navigation = ?, updated = ?"
        " WHERE id = ? AND actor_id = ?",
        (slug, position, in_navigation, when, page_id, actor))
    if changed != 1:
        return False
    await _replace_texts(tx, page_id, texts)
    return True


async def set_text(tx: Tx, actor: int, slug: str, text: PageText, when: datetime,
                   in_navigation: bool | None = None) -> int:
    """One language of a page, made if it is new (the CLI's `page set`); the others kept."""
    page_id = await tx.fetchvalue(
        "SELECT id FROM pages WHERE actor_id = ? AND slug = ?", (actor, slug))
    if page_id is None:
        position = await tx.fetchvalue(
            "SELECT coalesce(max(position), 0) + 1 FROM pages WHERE actor_id = ?", (actor,))
        page_id = await tx.insert(
            "INSERT INTO pages (actor_id, slug, position, in_navigation, published, updated)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (actor, slug, int(position), bool(in_navigation), when, when))
    else:
        await tx.execute("UPDATE pages SET updated = ? WHERE id = ?", (when, page_id))
        if in_navigation is not None:
            await tx.execute("UPDATE pages SET in_navigation = ? WHERE id = ?",
                             (in_navigation, page_id))
    await tx.execute("DELETE FROM page_texts WHERE page_id = ? AND language = ?",
                     (page_id, text.language))
    await tx.execute(
        "INSERT INTO page_texts (page_id, language, title, body, body_html)"
        " VALUES (?, ?, ?, ?, ?)",
        (page_id, text.language, text.title, text.body, text.body_html))
    return int(page_id)


async def delete(tx: Tx, actor: int, page_id: int) -> bool:
    await tx.execute(
        "DELETE FROM page_texts WHERE page_id IN"
        " (SELECT id FROM pages WHERE id = ? AND actor_id = ?)", (page_id, actor))
    changed = await tx.execute(
        "DELETE FROM pages WHERE id = ? AND actor_id = ?", (page_id, actor))
    return changed == 1
