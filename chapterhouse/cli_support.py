"""What every `chapterhouse` command shares: the one-line error, config, the database."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn, TypeVar

from chapterhouse import logs
from chapterhouse.config import Config, ConfigError, load
from storage.database import Database

T = TypeVar("T")


class UsageError(Exception):
    """Bad input from the command line (exit status 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: scripts and people both read it easily.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, metavar="DIR",
                        help="the node's data directory (config.toml and the database)")


def load_config(data_dir: Path) -> Config:
    try:
        config = load(data_dir)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    logs.configure(config.log_format, config.log_level)
    return config


def with_db(config: Config, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against the node's database, opened (and migrated) for this command."""

    async def run() -> T:
        async with Database(config.database) as db:
            return await work(db)

    return asyncio.run(run())


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )
