"""Real `chapterhouse serve` processes on 127.0.0.1, built through the CLI: the one way
the tests, the benchmarks and `chapterhouse demo` start nodes.

A node is made with `chapterhouse init --set KEY=VALUE` and changed with `chapterhouse
config set`, the commands an operator uses, so what is tested and measured is how a node
is really configured. The module lives in the package (not under tests/) so that the
demo can use it from an installed Chapterhouse.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chapterhouse.settings import assignment

HOST = "127.0.0.1"
# Commands run here, so that from a checkout they import its code; the data directory
# is passed as an absolute path, so a relative one still means the caller's.
ROOT = Path(__file__).resolve().parent.parent

# Lets nodes on 127.0.0.1 talk to each other, with retries in seconds rather than minutes.
FEDERATING: dict[str, object] = {
    "federation.allow_private_addresses": True,
    "delivery.backoff_scale": 0.02,
}

_HANDED_OUT: set[int] = set()

# When set (by the test suite's `--engine postgresql`, or a benchmark), the URL of a
# PostgreSQL server's admin database: every node made here gets a new database there.
POSTGRES_ENV = "CHAPTERHOUSE_TEST_POSTGRES"


def new_storage_url() -> str | None:
    """A fresh PostgreSQL database for a node when POSTGRES_ENV says where; else None."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        return None
    from chapterhouse.pg_cluster import create_database
    return create_database(admin)


class NodeError(RuntimeError):
    """A command that failed or a node that did not start; the message says which."""


def _port_range() -> tuple[int, int]:
    """20000-32000, or this pytest-xdist worker's own slice of it: a port is chosen at init
    and bound only at start, so two workers drawing from one range could both hand out a
    port in between, and two nodes would share a domain."""
    low, high = 20000, 32000
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and worker[2:].isdigit() and count > 1:
        span = (high - low) // count
        low += int(worker[2:]) * span
        high = low + span
    return low, high


def free_port() -> int:
    """A port nobody listens on, below the kernel's ephemeral range: a node's port is
    chosen at init and bound only at start, and in between an outgoing connection could
    take an ephemeral port. Never the same port twice in one process."""
    low, high = _port_range()
    while True:
        port = random.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def run_cli(
    *args: str, timeout: float = 60, stdin: str = "", new_session: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m chapterhouse ARGS`; new_session keeps it out of reach of a Ctrl-C
    meant for the caller, so that a command is never cut off half-way."""
    return subprocess.run(
        [sys.executable, "-m", "chapterhouse", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, input=stdin,
        start_new_session=new_session,
    )


def reason(result: subprocess.CompletedProcess[str]) -> str:
    """The last line a failed command wrote, without its `chapterhouse: error: `."""
    lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
    return lines[-1].removeprefix("chapterhouse: error: ")


def set_arguments(settings: Mapping[str, object]) -> list[str]:
    """`--set KEY=VALUE` arguments for `chapterhouse init` from Python values."""
    return [part for key, item in settings.items() for part in ("--set", assignment(key, item))]


def wait_for(condition: Callable[[], Any], timeout: float = 20, what: str = "condition",
             every: float = 0.1) -> Any:
    """Poll until condition() is truthy; its value, or AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def run_sql(location: Path | str, query: str, params: Sequence[object] = (),
            many: Sequence[Sequence[object]] | None = None) -> list[tuple[Any, ...]]:
    """`Node.sql` for any database: a thread of its own, so that an async test can call it.
    With `many`, the statement runs once for each row of values and returns nothing."""
    import asyncio

    from storage.database import Database

    async def go() -> list[tuple[Any, ...]]:
        async with Database(location) as db:
            if many is None and query.lstrip().upper().startswith("SELECT"):
                # A read takes no write lock: the caller may be an async test whose own
                # loop (blocked here) holds a transaction of an in-process node.
                return [tuple(row) for row in await db.fetchall(query, tuple(params))]
            async with db.transaction() as tx:
                if many is not None:
                    await tx.executemany(query, [tuple(row) for row in many])
                    return []
                return [tuple(row) for row in await tx.fetchall(query, tuple(params))]

    result: list[list[tuple[Any, ...]]] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(go()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def request(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None
) -> Response:
    """One HTTP request, redirects not followed, any status returned (never raised);
    no proxy is consulted, so a proxy in the environment cannot get between two nodes."""
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"not an absolute URL: {url!r}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target or "/", body=body, headers=headers or {})
        raw = conn.getresponse()
        return Response(
            raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read()
        )
    finally:
        conn.close()


@dataclass
class Node:
    """One node: a data directory, a port, and (once started) its serve process."""

    data: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    storage_url: object = None  # `[storage] url` when set at init (PostgreSQL)
    _log_start: int = 0  # where this run's output begins in log_path

    def __post_init__(self) -> None:
        self.log_path = self.data.parent / f"{self.data.name}.log"

    @classmethod
    def init(
        cls, parent: Path, name: str = "node", *, settings: Mapping[str, object] | None = None,
        port: int | None = None, display_name: str | None = None,
    ) -> Node:
        """`chapterhouse init` in parent/name for 127.0.0.1:port (a free one by default)."""
        node = cls(parent / name, free_port() if port is None else port)
        node.create(settings, display_name)
        return node

    def create(self, settings: Mapping[str, object] | None = None,
               display_name: str | None = None) -> None:
        """`chapterhouse init` for this node's data directory and domain."""
        extra = ["--name", display_name] if display_name is not None else []
        settings = dict(settings or {})
        if "storage.url" not in settings and (url := new_storage_url()) is not None:
            settings["storage.url"] = url
        self.storage_url = settings.get("storage.url")
        self.run("init", "--domain", self.domain, *extra, *set_arguments(settings))

    @property
    def domain(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.domain}"

    @property
    def database(self) -> Path | str:
        """The node's SQLite file, or its PostgreSQL URL."""
        if isinstance(self.storage_url, str) and "://" in self.storage_url:
            return self.storage_url
        config = self.data / "config.toml"
        if config.exists():
            import tomllib
            url = tomllib.loads(config.read_text("utf-8")).get("storage", {}).get("url")
            if isinstance(url, str) and "://" in url:
                self.storage_url = url
                return url
        return self.data / "chapterhouse.sqlite3"

    @property
    def engine(self) -> str:
        return "postgresql" if isinstance(self.database, str) else "sqlite"

    @property
    def exists(self) -> bool:
        return (self.data / "config.toml").exists()

    def configure(self, settings: Mapping[str, object]) -> None:
        """`chapterhouse config set` for each key (SECTION.KEY); read at the next start."""
        self.run("config", "set", *(assignment(k, v) for k, v in settings.items()))

    def federating(self) -> Node:
        """Let this node talk to the other nodes on 127.0.0.1, with retries in seconds."""
        self.configure(FEDERATING)
        return self

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """One statement in its own transaction, on either engine (`?` placeholders,
        Python values: datetimes for timestamps, booleans for flags); its rows."""
        return run_sql(self.database, query, params)

    def sql_many(self, query: str, rows: Sequence[Sequence[object]]) -> None:
        """`sql` once for each row of values, in one transaction."""
        run_sql(self.database, query, many=rows)

    def chapter(self, slug: str, name: str, level: str = "local", *extra: str) -> Node:
        """`chapterhouse chapter create` (NodeError if that does not work)."""
        self.run("chapter", "create", slug, "--name", name, "--level", level, *extra)
        return self

    def get(self, path: str, accept: str | None = None, **headers: str) -> Response:
        if accept is not None:
            headers["Accept"] = accept
        return request(f"{self.base}{path}", headers=headers)

    def cli(self, *args: str, stdin: str = "", timeout: float = 60,
            new_session: bool = False) -> subprocess.CompletedProcess[str]:
        """`chapterhouse ARGS --data DIR`, whatever its exit status."""
        return run_cli(*args, "--data", str(self.data.absolute()), stdin=stdin, timeout=timeout,
                       new_session=new_session)

    def run(self, *args: str, stdin: str = "", timeout: float = 60) -> str:
        """`chapterhouse ARGS --data DIR`; its stdout, or NodeError with its error line."""
        result = self.cli(*args, stdin=stdin, timeout=timeout)
        if result.returncode != 0:
            raise NodeError(f"`chapterhouse {' '.join(args[:2])}` failed: {reason(result)}")
        return result.stdout

    def spawn(self, python_args: tuple[str, ...] = (), new_session: bool = False,
              preexec: Callable[[], None] | None = None) -> None:
        """Start `chapterhouse serve` without waiting; output appended to log_path.

        python_args go to the interpreter (e.g. cProfile); new_session and preexec let
        the demo keep its Ctrl-C to itself and take its nodes down with it."""
        with self.log_path.open("ab") as log:
            self._log_start = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, *python_args, "-m", "chapterhouse", "serve",
                 "--data", str(self.data.absolute()), "--listen", self.domain],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=new_session, preexec_fn=preexec,
            )

    def cpu_seconds(self) -> float:
        """User + system CPU time of the node process so far (Linux), or NaN."""
        assert self.process is not None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def serving(self) -> bool:
        """True once the node answers; NodeError if its process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise NodeError(f"node exited early (exit status {self.process.returncode}):\n"
                            f"{self.log()[-4000:]}")
        try:
            if request(f"{self.base}/.well-known/nodeinfo").status != 200:
                return False
        except OSError:
            return False
        # Something answers on our port: our process only once it says it is serving
        # (another node on the same port would answer too, and talk for us).
        return self.process is None or b"serving" in self._log_since_spawn()

    def _log_since_spawn(self) -> bytes:
        if not self.log_path.exists():
            return b""
        with self.log_path.open("rb") as log:
            log.seek(self._log_start)
            return log.read()

    def wait_until_serving(self, timeout: float = 30,
                           check: Callable[[], None] | None = None) -> None:
        """Until the node answers; check() runs on every poll (it may raise to give up)."""
        deadline = time.monotonic() + timeout
        while not self.serving():
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise NodeError(f"node did not answer within {timeout:.0f} s:\n"
                                f"{self.log()[-4000:]}")
            time.sleep(0.05)

    def start(self, timeout: float = 30) -> None:
        self.spawn()
        self.wait_until_serving(timeout)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the node and wait; killed (and TimeoutExpired raised) if it hangs."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""
