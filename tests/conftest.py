from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from argon2 import PasswordHasher

from chapterhouse import harness
from chapterhouse.harness import POSTGRES_ENV, new_storage_url
from chapterhouse.pg_cluster import Cluster
from storage.actors import NewKey
from tests.nodes import Node

AS2 = "application/activity+json"
FOLLOWERS_OF_IRELAND = 45


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine", choices=("sqlite", "postgresql"),
        default=os.environ.get("CHAPTERHOUSE_TEST_ENGINE", "sqlite"),
        help="the storage engine every node and database of the run uses: the embedded "
             "SQLite, or PostgreSQL in a throwaway cluster started for the run")


def pytest_report_header(config: pytest.Config) -> str:
    return f"storage engine: {config.getoption('--engine')}"


@pytest.fixture(scope="session", autouse=True)
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The run's storage engine. On PostgreSQL, a cluster of the run's own (initdb into a
    temporary directory), where every node the harness makes gets a database."""
    name = request.config.getoption("--engine")
    if name != "postgresql":
        yield name
        return
    with Cluster() as cluster:
        os.environ[POSTGRES_ENV] = cluster.url()
        try:
            yield name
        finally:
            os.environ.pop(POSTGRES_ENV, None)


class _KeyPool:
    """Real key pairs, the first POOL made fresh and then handed out again in turn: making
    an RSA key is most of what creating an actor costs, and the suite creates thousands.
    Any POOL actors made one after another still have keys of their own."""

    POOL = 48

    def __init__(self, make: Callable[[], list[NewKey]]) -> None:
        self.make = make
        self.made: list[list[NewKey]] = []
        self.next = 0

    def __call__(self) -> list[NewKey]:
        if len(self.made) < self.POOL:
            self.made.append(self.make())
            return self.made[-1]
        self.next = (self.next + 1) % self.POOL
        return self.made[self.next]


@pytest.fixture(scope="session", autouse=True)
def _less_costly_keys_and_hashes() -> Iterator[None]:
    """In this process (not in the node processes the tests start): actors' keys from a
    pool, and argon2id with its smallest cost. Both stay real: signatures are made and
    checked with real keys, passwords hashed and verified with real argon2id; only the
    work that costs on purpose is less."""
    from actors import accounts, keys, registry

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "generate_actor_keys", _KeyPool(keys.generate_actor_keys))
        patch.setattr(accounts, "HASHER",
                      PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


def _main_here(args: tuple[str, ...], stdin: str) -> subprocess.CompletedProcess[str]:
    from chapterhouse.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            _stdin(stdin):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own exits
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except Exception:  # what the interpreter does with an uncaught exception
            traceback.print_exc()
            code = 1
    structlog.reset_defaults()
    return subprocess.CompletedProcess(["chapterhouse", *args], code, out.getvalue(),
                                       err.getvalue())


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def _cli_in_this_process(*args: str, timeout: float = 60, stdin: str = "",
                         new_session: bool = False) -> subprocess.CompletedProcess[str]:
    """`chapterhouse ARGS` run by main() in the test's process instead of a new interpreter.
    The command is the same code with the same database and files; what is saved is the
    interpreter's start and, with the fixture above, keys and hashes made at full cost."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _main_here(args, stdin)
    # main() runs its own event loop: from inside a test's loop, in a thread of its own
    # (the test's loop waits, as it waited for the subprocess).
    done: list[subprocess.CompletedProcess[str]] = []
    thread = threading.Thread(target=lambda: done.append(_main_here(args, stdin)))
    thread.start()
    thread.join()
    return done[0]


@pytest.fixture(scope="session", autouse=True)
def _commands_in_this_process() -> Iterator[None]:
    """Node.cli runs the command in this process: the suite runs a few thousand of them,
    and starting an interpreter for each was a good part of its time. Node processes
    (`serve`) stay processes of their own, and tests that mean a separate process (signals,
    exit on a crash) call harness.run_cli from tests.nodes, which still starts one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(harness, "run_cli", _cli_in_this_process)
        yield


@pytest.fixture
def store_location(tmp_path: Path, engine: str) -> Path | str:
    """Where a test's own database goes: a SQLite file in its temporary directory, or a new
    database in the run's PostgreSQL cluster."""
    return new_storage_url() or tmp_path / "chapterhouse.sqlite3"


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    # CLI tests run main() in-process, which configures structlog for the whole process.
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One running node shared by the HTTP tests, with a small organisation on it:

    a national chapter (ireland) with 45 followers, a local chapter (dublin) with two members,
    and a local chapter (cork) whose name and summary hold markup.
    """
    node = Node.init(tmp_path_factory.mktemp("shared"))
    for args in (
        ("chapter", "create", "ireland", "--name", "IOPS Ireland", "--level", "national",
         "--location", "Ireland", "--icon", "https://static.example/ireland.png"),
        ("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local",
         "--location", "Dublin, Ireland",
         "--summary", "Organising and bookfairs in Dublin.\n\nMeetings every second Tuesday."),
        ("chapter", "create", "cork", "--name", "<b>Cork</b>", "--level", "local",
         "--summary", "<script>alert(1)</script>"),
        ("member", "add", "ana", "--chapter", "dublin", "--name", "Ana Byrne"),
        ("member", "add", "brian", "--chapter", "dublin"),
    ):
        result = node.cli(*args)
        assert result.returncode == 0, result.stderr
    # Followers arrive through the inbox (a later issue); here they are rows in the same
    # table, so that paging is checked on a collection with more than one page.
    ((ireland,),) = node.sql("SELECT id FROM actors WHERE handle = 'ireland'")
    created = datetime(2026, 11, 1, tzinfo=UTC)
    node.sql_many(
        "INSERT INTO followers (actor_id, follower_iri, state, created_at)"
        " VALUES (?, ?, ?, ?)",
        [(ireland, f"https://social.example/users/f{i}", "accepted", created)
         for i in range(FOLLOWERS_OF_IRELAND)]
        + [(ireland, "https://social.example/users/pending", "requested", created)],
    )
    node.start()
    yield node
    node.stop()


@pytest.fixture
def fresh_node(tmp_path: Path) -> Iterator[Node]:
    """A node of its own, initialised but not started."""
    node = Node.init(tmp_path)
    yield node
    if node.process is not None and node.process.poll() is None:
        node.stop()
