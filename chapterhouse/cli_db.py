"""`chapterhouse db copy`: move a node's data from its SQLite file to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chapterhouse.cli_support import Parser, UsageError, load_config, table
from chapterhouse.config import ConfigError, storage_location
from storage.copy import Copied, CopyRefused, copy_node
from storage.database import Database, Location, describe, is_postgres


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    db = commands.add_parser("db", help="move the node's data to another database",
                             description="Move the node's data to another database.")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION",
                                parser_class=Parser)
    copy = actions.add_parser(
        "copy", help="copy a stopped node's SQLite data into an empty PostgreSQL database",
        description="Copy every row of a node's SQLite database into an empty PostgreSQL "
        "database (its schema is created there), keeping ids. Stop the node first: what it "
        "writes during the copy is not copied. Then point the node at the new database with "
        "`chapterhouse config set storage.url=URL` and start it.")
    # dest "data", like every other command's --data: an old schema's error names it.
    copy.add_argument("--from", dest="data", required=True, type=Path, metavar="DIR",
                      help="the node's data directory (its config names the SQLite file)")
    copy.add_argument("--to", required=True, metavar="URL",
                      help="the empty PostgreSQL database: postgresql://USER@HOST/DBNAME")
    copy.set_defaults(run=cmd_db_copy)


def _target(url: str) -> Location:
    if not is_postgres(url):
        raise UsageError(f"--to must be a postgresql:// URL, not {url!r}")
    try:
        return storage_location({"url": url}, Path("."))
    except ConfigError as exc:
        raise UsageError("--to" + str(exc).removeprefix("storage.url")) from None


def _with_password_hidden(url: str) -> str:
    """The URL to paste into `config set`: as given, with a password replaced by a mark."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:PASSWORD@{host}"))


def cmd_db_copy(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    url = _target(args.to)
    if is_postgres(config.database):
        raise UsageError(f"the node in {args.data} is on PostgreSQL already "
                         f"({describe(config.database)}); db copy moves a SQLite node")

    async def run() -> list[Copied]:
        # The target's schema is created (or brought up to date) first, in transactions of
        # its own; the copy itself is one transaction, so a refused or failed copy leaves
        # only that empty schema, which the next attempt reuses.
        source, target = Database(config.database), Database(url, migrate=True)
        await source.open()
        try:
            await target.open()
            try:
                return await copy_node(source, target)
            finally:
                await target.close()
        finally:
            await source.close()

    try:
        copied = asyncio.run(run())
    except CopyRefused as exc:
        raise UsageError(str(exc)) from None
    print(f"copied {describe(config.database)} to {describe(url)}:")
    print(table([[c.table, str(c.rows)] for c in copied], ["TABLE", "ROWS"]))
    print(f"next: chapterhouse config set storage.url={_with_password_hidden(str(url))} "
          f"--data {args.data}, then start the node")
    return 0
