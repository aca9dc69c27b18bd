"""`project create`: a chapter's project, started by one of its members, as the web's
/@SLUG/projects/new starts it (the same validation, the starter taking part)."""

from __future__ import annotations

import argparse
from pathlib import Path

from chapterhouse.cli_publishing import language_argument
from chapterhouse.cli_support import Parser, UsageError, data_dir_argument, load_config, with_db
from federation.urls import Urls
from outbox import content
from outbox.items import PROJECT_STATUSES, Item
from outbox.publish import PublishError
from storage import actors as actor_store
from storage.database import Database


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    project = commands.add_parser("project", help="a chapter's projects",
                                  description="A chapter's projects.")
    actions = project.add_subparsers(dest="action", required=True, metavar="ACTION",
                                     parser_class=Parser)
    create = actions.add_parser(
        "create", help="start a project",
        description="Start a project of a chapter, with one of its members as its starter "
        "(who takes part from the start). Prints the project's id (its URL); the running "
        "node delivers it to the chapter's followers.")
    data_dir_argument(create)
    language_argument(create, "it is")
    create.add_argument("--chapter", metavar="SLUG", required=True)
    create.add_argument("--member", metavar="USERNAME", required=True,
                        help="the member of the chapter who starts it")
    create.add_argument("--title", required=True)
    create.add_argument("--status", default="proposed", metavar="STATUS",
                        help=f"one of {', '.join(PROJECT_STATUSES)} (default: proposed)")
    create.add_argument("--summary", default="",
                        help="plain text shown by Mastodon (default: the description's start)")
    create.add_argument("--body-file", type=Path, metavar="FILE",
                        help="the description, Markdown")
    create.set_defaults(run=cmd_project_create)


def cmd_project_create(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    body = ""
    if args.body_file is not None:
        try:
            body = args.body_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.body_file}: {exc}") from None

    async def work(db: Database) -> str:
        chapter = await actor_store.actor_by_handle(db, args.chapter)
        if chapter is None or chapter.kind != "chapter":
            raise PublishError(f"there is no chapter {args.chapter!r} on this node")
        member = await actor_store.actor_by_handle(db, args.member)
        if member is None or member.kind != "member":
            raise PublishError(f"there is no member {args.member!r} on this node")
        if args.chapter not in {c.handle for c in await actor_store.member_chapters(
                db, member.id)}:
            raise PublishError(f"{args.member} is not a member of {args.chapter}")
        language = args.language or await content.written_in(db, args.chapter,
                                                              config.language)
        item = Item(kind="project", title=args.title, summary=args.summary, body=body,
                    project_status=args.status, started_by=member.handle, language=language)
        return await content.publish_item(db, Urls(config.base_url), args.chapter, item)

    try:
        print(with_db(config, work))
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    return 0
