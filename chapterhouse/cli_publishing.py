"""Commands that publish: `post KIND`, `edit`, `delete`.

Each prints what it made (the new item's id, which is its URL) on stdout and nothing
else, so scripts can use it; the running node delivers it to every follower.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chapterhouse.cli_support import Parser, UsageError, data_dir_argument, load_config, with_db
from federation.languages import is_language
from federation.urls import Urls
from outbox import content, publish
from outbox.items import Item
from outbox.publish import PublishError
from storage import actors as actor_store
from storage.database import Database


def language_code(value: str) -> str:
    """--language's value: a two- or three-letter language code ("eo")."""
    code = value.strip().lower()
    if not is_language(code):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a language code such as en or eo (ISO 639, two or three "
            "letters)")
    return code


def language_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--language", type=language_code, metavar="CODE",
                        help=f"the language {what} written in, e.g. en or eo (default: the "
                        "chapter's language setting, else the node's [node] language)")


def _author(parser: argparse.ArgumentParser, upward: bool = False) -> None:
    data_dir_argument(parser)
    language_argument(parser, "it is")
    author = parser.add_mutually_exclusive_group(required=True)
    author.add_argument("--chapter", metavar="SLUG", help="publish as this chapter")
    author.add_argument("--member", metavar="USERNAME", help="publish as this member")
    if upward:
        parser.add_argument("--upward", action="store_true",
                            help="also send it to the parent chapter, which passes it up "
                            "(minutes always go up)")


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    post = commands.add_parser("post", help="publish as a chapter or member",
                               description="Publish as a chapter or member. Prints the new "
                               "item's id (its URL); the running node delivers it.")
    kinds = post.add_subparsers(dest="kind", required=True, metavar="KIND", parser_class=Parser)

    note = kinds.add_parser("note", help="a short public note",
                            description="Publish a short public Note.")
    note.add_argument("text", metavar="TEXT", help="the note (plain text; blank lines part it)")
    _author(note)
    note.set_defaults(run=cmd_post_note)

    for kind, what in (("news", "a news item"), ("blog", "a blog post"),
                       ("minutes", "meeting minutes")):
        article = kinds.add_parser(kind, help=f"publish {what}",
                                   description=f"Publish {what}: an Article whose Markdown body "
                                   "comes from --body-file, or from standard input.")
        # Minutes always go up to the parent: an option for it would only mislead.
        _author(article, upward=kind != "minutes")
        article.add_argument("--title", required=True)
        article.add_argument("--summary", default="",
                             help="plain text shown by Mastodon (default: the body's start)")
        article.add_argument("--body-file", type=Path, metavar="FILE",
                             help="Markdown body (default: read standard input)")
        if kind == "minutes":
            article.add_argument("--meeting-date", metavar="YYYY-MM-DD",
                                 help="the day of the meeting")
        article.set_defaults(run=cmd_post_article, kind=kind)

    event = kinds.add_parser("event", help="publish an event",
                             description="Publish an Event, at a place or online.")
    _author(event, upward=True)
    event.add_argument("--title", required=True)
    event.add_argument("--start", required=True, metavar="ISO",
                       help="e.g. 2026-12-05T14:00 (read in --timezone) or with an offset")
    event.add_argument("--end", metavar="ISO")
    event.add_argument("--timezone", required=True, metavar="TZ", help="e.g. Europe/Dublin")
    event.add_argument("--place-name", metavar="NAME")
    event.add_argument("--address", metavar="ADDRESS")
    event.add_argument("--online-url", metavar="URL")
    event.add_argument("--capacity", type=int, metavar="N", help="most participants")
    event.add_argument("--summary", default="")
    event.add_argument("--body-file", type=Path, metavar="FILE", help="Markdown description")
    event.set_defaults(run=cmd_post_event)

    poll = kinds.add_parser("poll", help="publish a poll",
                            description="Publish a poll that fediverse users can vote in.")
    _author(poll, upward=True)
    poll.add_argument("--question", required=True)
    poll.add_argument("--option", action="append", default=[], metavar="TEXT",
                      help="an answer; give two or more")
    poll.add_argument("--multiple", action="store_true", help="voters may pick several")
    poll.add_argument("--closes", required=True, metavar="ISO",
                      help="closing time with an offset, e.g. 2026-12-01T18:00+00:00")
    poll.set_defaults(run=cmd_post_poll)

    edit = commands.add_parser("edit", help="change a published item",
                               description="Change an item's title, summary or body; "
                               "followers get an Update.")
    edit.add_argument("id", metavar="ID", help="the item's id (its URL)")
    data_dir_argument(edit)
    edit.add_argument("--title")
    edit.add_argument("--summary")
    edit.add_argument("--body-file", type=Path, metavar="FILE")
    edit.add_argument("--language", type=language_code, metavar="CODE",
                      help="the language it is written in, e.g. en or eo")
    edit.set_defaults(run=cmd_edit)

    delete = commands.add_parser("delete", help="delete something published",
                                 description="Delete a published item or note: followers get "
                                 "a Delete and its URL answers 410 Gone.")
    delete.add_argument("id", metavar="ID", help="the item's id (its URL)")
    data_dir_argument(delete)
    delete.set_defaults(run=cmd_delete)


def _read_body(path: Path | None, from_stdin: bool) -> str:
    if path is not None:
        try:
            return path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
    if not from_stdin:
        return ""
    if sys.stdin.isatty():
        print("reading the Markdown body from standard input; end it with Ctrl-D",
              file=sys.stderr)
    return sys.stdin.read()


def _publish(args: argparse.Namespace, item: Item) -> int:
    config = load_config(args.data)
    handle = args.chapter or args.member
    kind = "chapter" if args.chapter else "member"

    async def work(db: Database) -> str:
        actor = await actor_store.actor_by_handle(db, handle)
        if actor is None or actor.kind != kind:
            raise PublishError(f"there is no {kind} {handle!r} on this node")
        urls = Urls(config.base_url)
        item.language = args.language or await content.written_in(db, handle, config.language)
        if item.kind == "note":
            return await publish.post_note(db, urls, handle, item.body, item.language)
        return await content.publish_item(db, urls, handle, item,
                                          upward=getattr(args, "upward", False))

    try:
        print(with_db(config, work))
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_post_note(args: argparse.Namespace) -> int:
    return _publish(args, Item(kind="note", title="", body=args.text))


def cmd_post_article(args: argparse.Namespace) -> int:
    return _publish(args, Item(
        kind=args.kind, title=args.title, summary=args.summary,
        body=_read_body(args.body_file, from_stdin=True),
        meeting_date=getattr(args, "meeting_date", None)))


def cmd_post_event(args: argparse.Namespace) -> int:
    return _publish(args, Item(
        kind="event", title=args.title, summary=args.summary,
        body=_read_body(args.body_file, from_stdin=False), starts_at=args.start,
        ends_at=args.end, timezone=args.timezone, place_name=args.place_name,
        address=args.address, online_url=args.online_url, capacity=args.capacity))


def cmd_post_poll(args: argparse.Namespace) -> int:
    return _publish(args, Item(kind="poll", title=args.question, options=args.option,
                               multiple=args.multiple, closes_at=args.closes))


def cmd_edit(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    body = _read_body(args.body_file, from_stdin=False) if args.body_file else None

    async def work(db: Database) -> str:
        details = {"language": args.language} if args.language else None
        return await content.edit_item(db, Urls(config.base_url), args.id, args.title,
                                       args.summary, body, details=details)

    try:
        print(with_db(config, work))
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    try:
        print(with_db(config, lambda db: publish.delete_object(
            db, Urls(config.base_url), args.id)))
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    return 0
