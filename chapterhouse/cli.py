"""The `chapterhouse` command: create a node, run it, and manage its chapters and members.

Bad input ends with one line on stderr and exit status 2; a failure of the machine (a port
in use, an unreadable file) with one line and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

import structlog
from aiohttp import web

from actors.registry import LEVELS, RegistryError, add_member, create_chapter, founding_day
from chapterhouse import (
    __version__,
    cli_accounts,
    cli_config,
    cli_db,
    cli_decisions,
    cli_federation,
    cli_mail,
    cli_pages,
    cli_projects,
    cli_publishing,
    demo,
    logs,
    settings,
)
from chapterhouse.app import create_app
from chapterhouse.cli_support import (
    Parser,
    UsageError,
    data_dir_argument,
    load_config,
    table,
    with_db,
)
from chapterhouse.config import (
    CONFIG_FILE,
    Config,
    ConfigError,
    render_initial,
    split_host_port,
    validate_domain,
)
from chapterhouse.services import initialise
from federation.urls import Urls
from hierarchy.affiliation import queue_actor_update
from storage import actors as store
from storage import chapter_settings as settings_store
from storage import joins as join_store
from storage.database import (
    Database,
    DatabaseBusy,
    Migration,
    SchemaOutOfDate,
    UnusableDatabase,
    describe,
    is_postgres,
)

log = structlog.get_logger("chapterhouse")


def build_parser() -> Parser:
    parser = Parser(prog="chapterhouse", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"chapterhouse {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=Parser)

    init = commands.add_parser("init", help="create a new node in a data directory",
                               description="Create a node: DIR/config.toml, the database "
                               "and the node's own keys. Refuses to touch an existing node.")
    data_dir_argument(init)
    init.add_argument("--domain", required=True, metavar="HOST[:PORT]",
                      help="host (and port) under which peers reach this node; permanent")
    init.add_argument("--scheme", choices=("http", "https"),
                      help="https (default) or http (default for localhost and IP addresses)")
    init.add_argument("--name", default="Chapterhouse", help="the node's display name")
    init.add_argument("--set", dest="settings", action="append", default=[],
                      type=settings.assignment_argument, metavar="SECTION.KEY=VALUE",
                      help=cli_config.SET_HELP + " (repeatable)")
    init.set_defaults(run=cmd_init)

    migrate = commands.add_parser("migrate", help="upgrade the database to this version's schema",
                                  description="Apply the schema migrations this version of "
                                  "Chapterhouse brings to an existing node's database. Stop "
                                  "the node first; nothing else upgrades the schema.")
    data_dir_argument(migrate)
    migrate.set_defaults(run=cmd_migrate)

    serve = commands.add_parser("serve", help="run the node until SIGINT or SIGTERM",
                                description="Serve the node over HTTP until SIGINT/SIGTERM.")
    data_dir_argument(serve)
    serve.add_argument("--listen", metavar="ADDR:PORT",
                       help="address to listen on (default: server.listen in config.toml)")
    serve.set_defaults(run=cmd_serve)

    chapter = commands.add_parser("chapter", help="create and list chapters",
                                  description="Create and list the chapters of this node.")
    chapter_commands = chapter.add_subparsers(dest="action", required=True, metavar="ACTION",
                                              parser_class=Parser)
    create = chapter_commands.add_parser("create", help="create a chapter (a Group actor)",
                                         description="Create a chapter, an ActivityPub Group "
                                         "that anyone in the fediverse can follow.")
    create.add_argument("slug", metavar="SLUG",
                        help="handle: lower-case a-z, 0-9, '_' and '-' (e.g. dublin)")
    data_dir_argument(create)
    create.add_argument("--name", required=True, help="display name, e.g. 'IOPS Dublin'")
    create.add_argument("--level", required=True, choices=LEVELS, help="place in the federation")
    create.add_argument("--location", metavar="PLACE", help="e.g. 'Dublin, Ireland'")
    create.add_argument("--summary", default="", metavar="TEXT", help="a short description")
    create.add_argument("--icon", metavar="URL", help="URL of the chapter's logo")
    create.add_argument("--manual-approval", action="store_true",
                        help="an organiser approves each follower (`followers approve`)")
    create.add_argument("--founded", metavar="YYYY-MM-DD",
                        help="the day the chapter was founded, if before today")
    cli_publishing.language_argument(create, "its items are")
    create.set_defaults(run=cmd_chapter_create)
    chapter_set = chapter_commands.add_parser("set", help="change a chapter's settings",
                                              description="Change a chapter's settings.")
    chapter_set.add_argument("slug", metavar="SLUG")
    data_dir_argument(chapter_set)
    chapter_set.add_argument("--manual-approval", choices=("yes", "no"),
                             help="whether an organiser approves each follower")
    chapter_set.add_argument("--joins", choices=("open", "approval"),
                             help="whether people join at once (open) or an organiser "
                             "approves each request to join (approval, the default)")
    chapter_set.add_argument("--founded", metavar="YYYY-MM-DD",
                             help="the day the chapter was founded (sent to its followers)")
    cli_publishing.language_argument(chapter_set, "its items are")
    chapter_set.set_defaults(run=cmd_chapter_set)
    cli_federation.add_chapter_commands(chapter_commands)
    cli_accounts.add_chapter_commands(chapter_commands)
    chapter_list = chapter_commands.add_parser("list", help="list chapters, newest first",
                                               description="List the chapters of this node.")
    data_dir_argument(chapter_list)
    chapter_list.set_defaults(run=cmd_chapter_list)

    member = commands.add_parser("member", help="add and list members",
                                 description="Add and list the members of this node.")
    member_commands = member.add_subparsers(dest="action", required=True, metavar="ACTION",
                                            parser_class=Parser)
    add = member_commands.add_parser("add", help="add a member (a Person actor) to a chapter",
                                     description="Add a member to a chapter of this node.")
    add.add_argument("username", metavar="USERNAME",
                     help="handle: lower-case a-z, 0-9, '_' and '-'")
    data_dir_argument(add)
    add.add_argument("--chapter", required=True, metavar="SLUG", help="the member's chapter")
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--icon", metavar="URL", help="URL of the member's avatar")
    # Without either, the member has no account yet (`account create` gives one later).
    cli_accounts.add_password_arguments(add, prompt_by_default=False)
    add.set_defaults(run=cmd_member_add)
    member_list = member_commands.add_parser("list", help="list members, newest first",
                                             description="List the members of this node.")
    data_dir_argument(member_list)
    member_list.add_argument("--chapter", metavar="SLUG", help="only members of this chapter")
    member_list.set_defaults(run=cmd_member_list)
    cli_publishing.add_commands(commands)
    cli_federation.add_commands(commands)
    cli_accounts.add_commands(commands)
    cli_config.add_commands(commands)
    cli_db.add_commands(commands)
    cli_mail.add_commands(commands)
    cli_pages.add_commands(commands)
    cli_projects.add_commands(commands)
    cli_decisions.add_commands(commands)
    demo.add_command(commands)
    return parser


def _is_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_private or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


async def _init(config: Config) -> None:
    await initialise(config)


def cmd_init(args: argparse.Namespace) -> int:
    data_dir: Path = args.data
    if (data_dir / CONFIG_FILE).exists():
        raise UsageError(f"{data_dir} already holds a node ({CONFIG_FILE} exists); "
                         "refusing to overwrite it")
    try:
        domain = validate_domain(args.domain)
    except ConfigError as exc:
        raise UsageError(f"--domain: {exc}") from None
    if not args.name.strip() or any(ord(c) < 32 for c in args.name):
        raise UsageError("--name must be a non-empty line of text")
    scheme = args.scheme or ("http" if _is_local(split_host_port(domain, None)[0]) else "https")
    # Parse what is about to be written, so a bad value never leaves a half-made node.
    try:
        config_text, config = settings.apply(
            render_initial(domain, scheme, args.name.strip()), dict(args.settings), data_dir)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if asyncio.run(Database(config.database).exists()):
        raise UsageError(f"{describe(config.database)} already holds a node; "
                         "refusing to overwrite it")
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_init(config))
    # Written last: a node exists once its config does, and only if its database does.
    (data_dir / CONFIG_FILE).write_text(config_text, "utf-8")
    print(f"created node {config.base_url} in {data_dir}")
    print(f"next: chapterhouse chapter create SLUG --data {data_dir} --name NAME --level local")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    if not asyncio.run(Database(config.database).exists()):
        # Migrating would create a new node's schema where the node's data should be.
        missing = "holds no Chapterhouse node" if is_postgres(config.database) \
            else "does not exist"
        raise UsageError(f"{describe(config.database)} {missing}; nothing to migrate")

    async def run() -> tuple[int, list[Migration]]:
        db = Database(config.database)
        await db.open(check_schema=False)
        try:
            before = await db.schema_version()
            return before, await db.migrate()
        finally:
            await db.close()

    before, applied = asyncio.run(run())
    if not applied:
        print(f"{describe(config.database)}: schema version {before}, up to date")
        return 0
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print(f"{describe(config.database)}: schema version {before} -> {applied[-1].version}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    host, port = config.listen_host, config.listen_port
    if args.listen:
        try:
            host, parsed_port = split_host_port(args.listen, default_port=None)
        except ConfigError as exc:
            raise UsageError(f"--listen: {exc}") from None
        if parsed_port is None:
            raise UsageError("--listen must be ADDR:PORT")
        port = parsed_port
    return asyncio.run(_serve(config, host, port))


async def _serve(config: Config, host: str, port: int) -> int:
    # The worker names its leases after the address it serves on (services.running).
    config = dataclasses.replace(config, listen_host=host, listen_port=port)
    runner = web.AppRunner(create_app(config), access_log=None, handle_signals=False)
    try:
        await runner.setup()
    except UnusableDatabase:
        await runner.cleanup()
        raise
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            print(f"chapterhouse: error: cannot listen on {host}:{port}: {exc.strerror}",
                  file=sys.stderr)
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        log.info("serving", url=config.base_url, listen=f"{host}:{port}", data=str(config.data_dir))
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()
    log.info("stopped")
    return 0


def _founding(args: argparse.Namespace) -> datetime | None:
    if args.founded is None:
        return None
    try:
        return founding_day(args.founded)
    except RegistryError as exc:
        raise UsageError(f"--founded: {exc}") from None


def cmd_chapter_create(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    founded = _founding(args)

    async def work(db: Database) -> None:
        chapter = await create_chapter(db, config.hostname, args.slug, args.name, args.level,
                                       args.location, args.summary, args.icon,
                                       args.manual_approval)
        if founded is not None or args.language is not None:
            async with db.transaction() as tx:
                if founded is not None:
                    await settings_store.set_founded(tx, chapter, founded)
                if args.language is not None:
                    await settings_store.set_language(tx, chapter, args.language)

    _run_registry(config, work)
    urls = Urls(config.base_url)
    print(f"created {args.level} chapter @{args.slug}@{config.domain}: {urls.actor(args.slug)}")
    return 0


def cmd_chapter_set(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    if (args.manual_approval is None and args.joins is None and args.founded is None
            and args.language is None):
        raise UsageError("say what to change: --manual-approval yes|no, --joins open|approval, "
                         "--founded YYYY-MM-DD, --language CODE")
    founded = _founding(args)

    async def work(db: Database) -> None:
        chapter = await store.actor_by_handle(db, args.slug)
        if chapter is None or chapter.kind != "chapter":
            raise UsageError(f"there is no chapter {args.slug!r} on this node")
        if args.manual_approval is not None:
            await store.set_manual_approval(db, args.slug, args.manual_approval == "yes")
        if args.joins is not None:
            await join_store.set_joins_open(db, args.slug, args.joins == "open")
        if founded is not None:
            # With the Update in the same transaction, as the settings form does: followers
            # (and parents, which list it) learn the date from the Group's `published`.
            async with db.transaction() as tx:
                await settings_store.set_founded(tx, chapter.id, founded)
                await queue_actor_update(tx, Urls(config.base_url), args.slug, config.hostname)
        if args.language is not None:
            # Local only: it is the default of the chapter's items, each of which says its own.
            async with db.transaction() as tx:
                await settings_store.set_language(tx, chapter.id, args.language)

    with_db(config, work)
    if args.manual_approval is not None:
        state = "on" if args.manual_approval == "yes" else "off"
        print(f"{args.slug}: manual approval of followers {state}")
    if args.joins is not None:
        how = "join at once" if args.joins == "open" else "an organiser approves each request"
        print(f"{args.slug}: joins {args.joins} ({how})")
    if founded is not None:
        print(f"{args.slug}: founded {founded.date().isoformat()}")
    if args.language is not None:
        print(f"{args.slug}: items written in {args.language} unless their author says")
    return 0


def cmd_member_add(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    # Read (and checked) before anything is written: a bad file leaves no member behind.
    password = cli_accounts.wanted_password(args, prompt=False)
    email = cli_accounts.wanted_email(args)
    account = password is not None or args.password_link or email is not None
    link: str | None = None

    async def work(db: Database) -> None:
        nonlocal link
        await add_member(db, config.hostname, args.username, args.chapter, args.name, args.icon)
        if account:
            link = await cli_accounts.open_account(db, config, args.username, password, False,
                                                   email)

    _run_registry(config, work)
    urls = Urls(config.base_url)
    print(f"added member @{args.username}@{config.domain} to {args.chapter}: "
          f"{urls.actor(args.username)}")
    if link is not None:
        print(f"the member sets a password at this link, once, within "
              f"{cli_accounts.LINK_DAYS} days: {link}")
    elif account:
        print("the member can log in with the password given")
    return 0


def _run_registry(config: Config, work: Callable[[Database], Awaitable[object]]) -> None:
    try:
        with_db(config, work)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None


def cmd_chapter_list(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    chapters = with_db(config, store.chapters)
    if not chapters:
        print("no chapters yet")
        return 0
    print(table(
        [[c.handle, c.level, c.location or "-", c.founded_at.date().isoformat(), c.name]
         for c in chapters],
        ["HANDLE", "LEVEL", "LOCATION", "FOUNDED", "NAME"],
    ))
    return 0


def cmd_member_list(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> list[store.MemberRef]:
        if args.chapter is None:
            return await store.members(db)
        chapter = await store.actor_by_handle(db, args.chapter)
        if chapter is None or chapter.kind != "chapter":
            raise UsageError(f"there is no chapter {args.chapter!r} on this node")
        return await store.members(db, chapter_id=chapter.id)

    members = with_db(config, work)
    if not members:
        print("no members yet")
        return 0
    print(table([[m.handle, m.joined_at.date().isoformat(), m.name] for m in members],
                 ["HANDLE", "JOINED", "NAME"]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        logs.configure("console", "warning")
    else:
        logs.configure()
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"chapterhouse: error: {exc}", file=sys.stderr)
        return 2
    except DatabaseBusy as exc:
        # "database is locked" after the busy timeout: the node is very busy; try again.
        print(f"chapterhouse: error: the database is busy ({exc}); try again", file=sys.stderr)
        return 1
    except SchemaOutOfDate as exc:
        # Exit 2, like bad input: the operator has a step to take, the machine is fine.
        data = getattr(args, "data", None)
        command = "chapterhouse migrate" + (f" --data {data}" if data is not None else "")
        print(f"chapterhouse: error: {exc.path} has schema version {exc.found}, older than "
              f"this Chapterhouse needs ({exc.expected}); upgrade it with `{command}`",
              file=sys.stderr)
        return 2
    except UnusableDatabase as exc:
        # Say so and stop: no traceback, and nothing for a supervisor to restart in a loop.
        print(f"chapterhouse: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"chapterhouse: error: {exc}", file=sys.stderr)
        return 1
