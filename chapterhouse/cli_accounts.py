"""Accounts and organisers from the command line: `account create`, `account
logout-everywhere`, `account reset-link`, `chapter organisers add|remove|list`, and the
password and email options of `member add`. The first administrator can only be made
here: nobody can log in before.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from actors.accounts import (
    LINK_DAYS,
    AccountError,
    check_email,
    check_password,
    create_account,
    issue_password_link,
)
from actors.registry import RegistryError, add_member
from chapterhouse.cli_support import (
    Parser,
    UsageError,
    data_dir_argument,
    load_config,
    table,
    with_db,
)
from chapterhouse.config import Config
from storage import accounts as store
from storage.database import Database
from storage.timestamps import now


def add_password_arguments(parser: argparse.ArgumentParser, prompt_by_default: bool) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password-file", type=Path, metavar="FILE",
                       help="read the password from the first line of FILE")
    group.add_argument("--password-link", action="store_true",
                       help=f"print a one-time link where the member sets the password "
                            f"(valid {LINK_DAYS} days)")
    parser.add_argument("--email", metavar="ADDRESS",
                        help="the member's email address, where \"forgot my password\" "
                             "mails a link (when the node sends mail)")
    if prompt_by_default:
        parser.epilog = "Without --password-file or --password-link the password is asked for."


def wanted_email(args: argparse.Namespace) -> str | None:
    if args.email is None:
        return None
    try:
        return check_email(args.email.strip())
    except AccountError as exc:
        raise UsageError(f"--email: {exc}") from None


def read_password(path: Path) -> str:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(f"--password-file: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--password-file: cannot read {path}: {exc}") from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    return _checked(password, f"--password-file {path}")


def _checked(password: str, where: str) -> str:
    try:
        return check_password(password)
    except AccountError as exc:
        raise UsageError(f"{where}: {exc}") from None


def prompt_password() -> str:
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password on; "
                         "use --password-file FILE or --password-link")
    password = _checked(getpass.getpass("Password: "), "password")
    if getpass.getpass("Password again: ") != password:
        raise UsageError("the two passwords are not the same")
    return password


def wanted_password(args: argparse.Namespace, prompt: bool) -> str | None:
    """The password the options give (None: a link, or no account at all)."""
    if args.password_file is not None:
        return read_password(args.password_file)
    if args.password_link or not prompt:
        return None
    return prompt_password()


async def open_account(db: Database, config: Config, handle: str, password: str | None,
                       is_admin: bool, email: str | None = None) -> str | None:
    """Create the account; the one-time link to print when there is no password."""
    try:
        member = await create_account(db, handle, password, is_admin, email)
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    if password is None:
        return await issue_password_link(db, config.base_url, member)
    return None


def _report(handle: str, config: Config, link: str | None, is_admin: bool) -> None:
    role = "administrator" if is_admin else "member"
    print(f"account for @{handle}@{config.domain} ({role}) created")
    if link is not None:
        print(f"the member sets a password at this link, once, within {LINK_DAYS} days: {link}")


def cmd_account_create(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    if args.name is not None and args.chapter is None:
        raise UsageError("--name names a new member; give their chapter with --chapter")
    password = wanted_password(args, prompt=True)
    email = wanted_email(args)

    async def work(db: Database) -> str | None:
        if args.chapter is not None:
            try:
                await add_member(db, config.hostname, args.username, args.chapter, args.name)
            except RegistryError as exc:
                raise UsageError(str(exc)) from None
        return await open_account(db, config, args.username, password, args.admin, email)

    link = with_db(config, work)
    _report(args.username.lower(), config, link, args.admin)
    return 0


def cmd_logout_everywhere(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> int:
        account = await store.account_by_handle(db, args.username)
        if account is None:
            raise UsageError(f"there is no account for {args.username!r} on this node")
        return await store.log_out_everywhere(db, account.member_id, now())

    ended = with_db(config, work)
    print(f"@{args.username.lower()}: logged out everywhere ({ended} session(s) ended)")
    return 0


def cmd_reset_link(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> str:
        member = await store.member_id(db, args.username)
        if member is None:
            raise UsageError(f"there is no member {args.username!r} on this node")
        if await store.account_by_handle(db, args.username) is None:
            await create_account(db, args.username, None)
        return await issue_password_link(db, config.base_url, member)

    link = with_db(config, work)
    print(f"@{args.username.lower()} sets a new password at this link, once, within "
          f"{LINK_DAYS} days (the password stays as it is until then): {link}")
    return 0


async def _chapter_and_member(db: Database, slug: str, username: str | None
                              ) -> tuple[int, int]:
    chapter = await store.chapter_id(db, slug)
    if chapter is None:
        raise UsageError(f"there is no chapter {slug!r} on this node")
    if username is None:
        return chapter, 0
    member = await store.member_id(db, username)
    if member is None:
        raise UsageError(f"there is no member {username!r} on this node")
    return chapter, member


def cmd_organisers_add(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> bool:
        chapter, member = await _chapter_and_member(db, args.slug, args.username)
        return await store.add_organiser(db, chapter, member, now())

    added = with_db(config, work)
    who = f"@{args.username.lower()}"
    print(f"{who} now organises {args.slug}" if added
          else f"{who} already organises {args.slug}; nothing changed")
    return 0


def cmd_organisers_remove(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> bool:
        chapter, member = await _chapter_and_member(db, args.slug, args.username)
        return await store.remove_organiser(db, chapter, member)

    if not with_db(config, work):
        raise UsageError(f"{args.username!r} is not an organiser of {args.slug!r}")
    print(f"@{args.username.lower()} no longer organises {args.slug}")
    return 0


def cmd_organisers_list(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> list[store.Organiser]:
        chapter, _ = await _chapter_and_member(db, args.slug, None)
        return await store.organisers(db, chapter)

    organisers = with_db(config, work)
    if not organisers:
        print(f"{args.slug} has no organisers yet")
        return 0
    print(table([[o.handle, o.appointed_at.date().isoformat(), o.name] for o in organisers],
                ["HANDLE", "APPOINTED", "NAME"]))
    return 0


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    account = commands.add_parser("account", help="log-in accounts of members",
                                  description="Create members' log-in accounts and end "
                                  "their sessions.")
    actions = account.add_subparsers(dest="action", required=True, metavar="ACTION",
                                     parser_class=Parser)
    create = actions.add_parser(
        "create", help="give a member an account (--admin: an administrator)",
        description="Give a member of this node an account to log in with. With --chapter "
        "(and --name) the member is created first, in that chapter.")
    create.add_argument("username", metavar="USER", help="the member's username")
    data_dir_argument(create)
    create.add_argument("--admin", action="store_true", help="a node administrator")
    create.add_argument("--chapter", metavar="SLUG",
                        help="create the member first, in this chapter")
    create.add_argument("--name", help="the new member's display name (with --chapter)")
    add_password_arguments(create, prompt_by_default=True)
    create.set_defaults(run=cmd_account_create)

    everywhere = actions.add_parser(
        "logout-everywhere", help="end every session of an account",
        description="End every session of a member's account, on every device.")
    everywhere.add_argument("username", metavar="USER")
    data_dir_argument(everywhere)
    everywhere.set_defaults(run=cmd_logout_everywhere)

    reset = actions.add_parser(
        "reset-link", help="print a one-time link where a member sets a new password",
        description="Print a one-time link where a member who cannot log in sets a new "
        f"password, valid {LINK_DAYS} days; pass it on to them yourself.")
    reset.add_argument("username", metavar="USER")
    data_dir_argument(reset)
    reset.set_defaults(run=cmd_reset_link)


def add_chapter_commands(chapter_commands: argparse._SubParsersAction[Parser]) -> None:
    organisers = chapter_commands.add_parser(
        "organisers", help="appoint, remove and list a chapter's organisers",
        description="A chapter's organisers: any number of the node's members.")
    actions = organisers.add_subparsers(dest="organisers_action", required=True,
                                        metavar="ACTION", parser_class=Parser)
    for name, help_text, run in (
        ("add", "appoint a member as an organiser of the chapter", cmd_organisers_add),
        ("remove", "a member no longer organises the chapter", cmd_organisers_remove),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text.capitalize()
                                    + ".")
        action.add_argument("slug", metavar="SLUG")
        action.add_argument("username", metavar="USER")
        data_dir_argument(action)
        action.set_defaults(run=run)
    listing = actions.add_parser("list", help="list the chapter's organisers",
                                 description="List the chapter's organisers.")
    listing.add_argument("slug", metavar="SLUG")
    data_dir_argument(listing)
    listing.set_defaults(run=cmd_organisers_list)
