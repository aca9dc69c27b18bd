"""/chapters as a visitor sees it: every chapter the node knows, this node's and those below
them elsewhere, as a tree by level with place, founded date and member count, filtered by
level and by place with the way up to each match kept; bad filters are a 400 page."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from actors.registry import create_chapter
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, make_site

ELSEWHERE = "https://other.example"


@dataclass
class Drawn:
    """A chapter as the page draws it: its link's text and href, its line, what is under it."""

    name: str = ""
    href: str = ""
    meta: str = ""
    context: bool = False
    children: list[Drawn] = field(default_factory=list)


class TreeReader(HTMLParser):
    """The nested `ul.tree` lists of the page, as Drawn chapters."""

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Drawn] = []
        self.stack: list[Drawn] = []
        self.depth = 0  # of ul.tree
        self.field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "ul" and "tree" in classes:
            self.depth += 1
        elif tag == "li" and self.depth:
            drawn = Drawn(context="context" in classes)
            (self.stack[-1].children if self.stack else self.roots).append(drawn)
            self.stack.append(drawn)
        elif tag == "a" and "name" in classes and self.stack:
            self.stack[-1].href = found.get("href") or ""
            self.field = "name"
        elif tag == "span" and "meta" in classes and self.stack:
            self.field = "meta"

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul" and self.depth:
            self.depth -= 1
        elif tag == "li" and self.stack:
            self.stack.pop()
        if (tag == "a" and self.field == "name") or tag == "div":
            self.field = None

    def handle_data(self, data: str) -> None:
        if self.field and self.stack:
            drawn = self.stack[-1]
            setattr(drawn, self.field, " ".join(f"{getattr(drawn, self.field)} {data}".split()))


def drawn(page: str) -> list[Drawn]:
    reader = TreeReader()
    reader.feed(page)
    return reader.roots


def names(branches: list[Drawn]) -> list[Any]:
    """[name, [children...]] for each branch: the tree's shape."""
    return [[b.name, names(b.children)] if b.children else b.name for b in branches]


def remote_chapter(slug: str, name: str, level: str, place: str, founded: str,
                   parent: str | None = None, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": f"{ELSEWHERE}/actors/{slug}", "type": "Group", "preferredUsername": slug,
        "name": name, "level": level, "location": {"type": "Place", "name": place},
        "published": founded, "url": f"{ELSEWHERE}/@{slug}",
        "inbox": f"{ELSEWHERE}/actors/{slug}/inbox"}
    if parent:
        document["parent"] = parent
    return document | extra


async def add_remote(site: Site, document: dict[str, Any]) -> None:
    await site.sql(
        "INSERT INTO remote_actors (iri, type, host, inbox, username, name, document,"
        " fetched_at) VALUES (?, 'Group', 'other.example', ?, ?, ?, ?, ?)",
        document["id"], document["inbox"], document["preferredUsername"], document["name"],
        json.dumps(document), now())


async def local_id(site: Site, handle: str) -> int:
    return int((await site.sql("SELECT id FROM actors WHERE handle = ?", handle))[0][0])


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """ireland (national) holds dublin (two members) and cork here, and galway on another
    node, which passed on what salthill (below galway) wrote; limerick elsewhere is known
    but nowhere below us."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    host = made.config.hostname
    prefix = made.config.base_url + "/actors/"
    await create_chapter(made.db, host, "ireland", "IOPS Ireland", "national",
                         location="Ireland")
    await create_chapter(made.db, host, "cork", "IOPS Cork", "local", location="Cork, Ireland")
    ireland = await local_id(made, "ireland")
    for handle in ("dublin", "cork"):
        await made.sql(
            "INSERT INTO parents (chapter_id, parent_iri, state, join_iri, created_at)"
            " VALUES (?, ?, 'accepted', ?, ?)",
            await local_id(made, handle), prefix + "ireland", f"{prefix}{handle}#join", now())
    galway = remote_chapter("galway", "IOPS Galway", "regional", "Galway, Connacht",
                            "2019-03-08T00:00:00Z", parent=prefix + "ireland")
    salthill = remote_chapter("salthill", "IOPS Salthill", "local", "Salthill, Galway",
                              "2024-06-01T00:00:00Z",
                              members={"type": "Collection", "totalItems": 7})
    limerick = remote_chapter("limerick", "IOPS Limerick", "local", "Limerick",
                              "2020-01-01T00:00:00Z")
    for document in (galway, salthill, limerick):
        await add_remote(made, document)
    await made.sql(
        "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
        " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
        ireland, galway["id"], galway["id"] + "#join", now(), now())
    object_id = (await made.sql(
        "INSERT INTO remote_objects (iri, type, attributed_to, document, published,"
        " received_at, via) VALUES (?, 'Note', ?, '{}', ?, ?, ?) RETURNING id",
        f"{ELSEWHERE}/objects/1", salthill["id"], now(), now(), galway["id"]))[0][0]
    await made.sql("INSERT INTO remote_object_audience (object_id, actor_id) VALUES (?, ?)",
                   object_id, ireland)
    return made


async def page(site: Site, query: str = "") -> tuple[int, str]:
    response = await site.client.get(f"/chapters{query}", headers=HTML)
    return response.status, await response.text()


async def test_every_chapter_known_is_drawn_under_the_chapter_above_it(site: Site) -> None:
    status, text = await page(site)
    assert status == 200
    tree = drawn(text)
    # By level, then by name; limerick is nowhere below our chapters.
    assert names(tree) == [["IOPS Ireland", [["IOPS Galway", ["IOPS Salthill"]],
                                             "IOPS Cork", "IOPS Dublin"]]]
    ireland = tree[0]
    galway, cork, dublin = ireland.children
    assert "IOPS Limerick" not in text
    assert dublin.href == "/@dublin" and ireland.href == "/@ireland"
    assert galway.href == f"{ELSEWHERE}/@galway"
    assert "National chapter" in ireland.meta and "Local chapter" in dublin.meta
    assert "Cork, Ireland" in cork.meta
    # Places, founding dates, members: ours always, theirs when their document says.
    assert "Galway, Connacht" in galway.meta and "8 March 2019" in galway.meta
    assert "members" not in galway.meta
    assert "7 members" in galway.children[0].meta and "1 June 2024" in galway.children[0].meta
    assert "2 members" in dublin.meta and "0 members" in cork.meta
    assert not any(b.context for b in (ireland, galway, cork, dublin))


async def test_filters_keep_the_matches_with_the_chapters_above_them(site: Site) -> None:
    status, text = await page(site, "?place=GALWAY")
    assert status == 200
    tree = drawn(text)
    assert names(tree) == [["IOPS Ireland", [["IOPS Galway", ["IOPS Salthill"]]]]]
    assert tree[0].context and not tree[0].children[0].context
    assert "2 chapters match." in text
    assert 'value="GALWAY"' in text

    status, text = await page(site, "?level=local")
    assert names(drawn(text)) == [["IOPS Ireland", [["IOPS Galway", ["IOPS Salthill"]],
                                                    "IOPS Cork", "IOPS Dublin"]]]
    assert drawn(text)[0].children[0].context  # galway is regional: only the way up

    status, text = await page(site, "?level=local&place=cork")
    assert names(drawn(text)) == [["IOPS Ireland", ["IOPS Cork"]]]
    assert "1 chapter matches." in text

    status, text = await page(site, "?level=international")
    assert status == 200 and drawn(text) == [] and "No chapter matches." in text
    assert '<option value="international" selected>' in text


@pytest.mark.parametrize("query", [
    "?level=planetary", "?level=" + "x" * 300, "?place=" + "a" * 101, "?place=%00dublin",
])
async def test_bad_filters_are_a_400_page_not_a_500(site: Site, query: str) -> None:
    status, text = await page(site, query)
    assert status == 400
    assert '<nav class="sections"' in text  # the site's header stays
    assert "Traceback" not in text


async def test_a_chapter_that_claims_its_own_child_as_parent_is_still_drawn(
        site: Site) -> None:
    """Peers' documents can say anything: a loop of parents draws each chapter once."""
    loop = remote_chapter("loop", "IOPS Loop", "regional", "Nowhere", "2021-01-01T00:00:00Z",
                          parent=f"{ELSEWHERE}/actors/galway")
    await add_remote(site, loop)
    galway = remote_chapter("galway", "IOPS Galway", "regional", "Galway, Connacht",
                            "2019-03-08T00:00:00Z", parent=loop["id"])
    await site.sql("UPDATE remote_actors SET document = ? WHERE iri = ?",
                   json.dumps(galway), galway["id"])
    await site.sql(
        "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
        " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
        await local_id(site, "cork"), loop["id"], loop["id"] + "#join", now(), now())
    status, text = await page(site)
    assert status == 200
    assert text.count(">IOPS Galway</a>") == 1 and text.count(">IOPS Loop</a>") == 1
