"""`chapterhouse page set`: one language of one of the organisation's pages, from a
Markdown file (the node's, or with --chapter a chapter's), as the web's /admin/pages and
/@{slug}/pages write them; `page list` shows them. Pages are never delivered, so nothing is
queued."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chapterhouse.cli_support import (
    Parser,
    UsageError,
    data_dir_argument,
    load_config,
    table,
    with_db,
)
from outbox.items import body_html
from storage import actors as actor_store
from storage import pages as store
from storage.database import Database
from storage.timestamps import now

LANGUAGES = ("en", "eo")  # as web/i18n.py LANGUAGES: the languages pages are read in


def _text(path: str) -> str:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--file: cannot read {path}: {exc}") from None
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise UsageError("--file: the page's text is empty")
    if len(text) > store.MAX_BODY:
        raise UsageError(f"--file: a page's text has at most {store.MAX_BODY} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise UsageError("--file: the text holds control characters")
    return text


async def _owner(db: Database, chapter: str | None) -> int:
    if chapter is None:
        actor = await actor_store.node_actor(db)
    else:
        actor = await actor_store.actor_by_handle(db, chapter)
        if actor is None or actor.kind != "chapter":
            raise UsageError(f"--chapter: no chapter {chapter!r} on this node")
    assert actor is not None
    return actor.id


def cmd_page_set(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    slug = args.slug.strip().lower()
    if not store.SLUG.fullmatch(slug) or slug in store.RESERVED:
        raise UsageError("--slug: 1 to 60 small letters, digits and hyphens (not 'new')")
    title = " ".join(args.title.split())
    if any(ord(c) < 32 or ord(c) == 127 for c in title):
        # As the web form's title, which drops them: a title is one line of text.
        raise UsageError("--title: no control characters")
    if not title or len(title) > store.MAX_TITLE:
        raise UsageError(f"--title: 1 to {store.MAX_TITLE} characters")
    body = _text(args.file)
    text = store.PageText(args.language, title, body, body_html(body))

    async def work(db: Database) -> None:
        owner = await _owner(db, args.chapter)
        async with db.transaction() as tx:
            await store.set_text(tx, owner, slug, text, now(),
                                 in_navigation=True if args.navigation else None)

    with_db(config, work)
    where = f"/@{args.chapter}/pages/{slug}" if args.chapter else f"/pages/{slug}"
    print(f"{config.base_url}{where} ({args.language}): {title}")
    return 0


def cmd_page_list(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> list[store.Page]:
        return await store.pages_of(db, await _owner(db, args.chapter))

    pages = with_db(config, work)
    if not pages:
        print("no pages")
        return 0
    print(table([[page.slug, str(page.position), "yes" if page.in_navigation else "",
                  ",".join(sorted(page.texts)),
                  " / ".join(text.title for text in page.texts.values())] for page in pages],
                ["SLUG", "ORDER", "NAVIGATION", "LANGUAGES", "TITLES"]))
    return 0


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    page = commands.add_parser(
        "page", help="the organisation's pages: welcome text, About, a chapter's resources",
        description="The node's pages (its welcome text, About, Mission, ...) or, with "
                    "--chapter, a chapter's; also written on the web at /admin/pages.")
    actions = page.add_subparsers(dest="action", required=True, metavar="ACTION",
                                  parser_class=Parser)
    set_ = actions.add_parser(
        "set", help="write one language of a page from a Markdown file",
        description="Write one language of a page (made if new; its other languages kept).")
    data_dir_argument(set_)
    set_.add_argument("--slug", required=True, help="the page's address, such as about "
                      "(welcome: the home page's welcome text)")
    set_.add_argument("--language", required=True, choices=LANGUAGES)
    set_.add_argument("--title", required=True)
    set_.add_argument("--file", required=True, metavar="PATH",
                      help="the text, Markdown ('-' reads standard input)")
    set_.add_argument("--chapter", metavar="SLUG", help="a chapter's page, not the node's")
    set_.add_argument("--navigation", action="store_true",
                      help="link the page from the navigation of every page")
    set_.set_defaults(run=cmd_page_set)
    list_ = actions.add_parser("list", help="list the pages",
                               description="The node's pages, or a chapter's.")
    data_dir_argument(list_)
    list_.add_argument("--chapter", metavar="SLUG", help="a chapter's pages")
    list_.set_defaults(run=cmd_page_list)
