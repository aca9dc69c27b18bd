"""A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary
directory, a server on a free port of 127.0.0.1, one fresh database per node.

The server binaries come from Debian's postgresql package (found on PATH or under
/usr/lib/postgresql/*/bin). PostgreSQL refuses to run as root, so as root (CI) the
cluster belongs to the `postgres` user that package creates, or to `nobody`.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class NoPostgres(RuntimeError):
    """The PostgreSQL server binaries are not installed; the message says how to get them."""


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    raise NoPostgres(f"{name} not found: install Debian's postgresql package "
                     "(apt-get install postgresql), as .ci/run does")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """`with Cluster() as cluster: url = cluster.new_database()`."""

    USER = "chapterhouse"

    def __init__(self, base: Path | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="chapterhouse-pg-", dir=base))
        self.data = self.base / "data"
        self.port = _free_port()
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    self._owner = pwd.getpwnam(name)
                    break

    def _run(self, *argv: str) -> None:
        kwargs: dict[str, object] = {}
        if self._owner is not None:
            kwargs = {"user": self._owner.pw_uid, "group": self._owner.pw_gid,
                      "extra_groups": []}
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                timeout=120, **kwargs)  # type: ignore[call-overload]
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {result.stderr.strip()}")

    def start(self) -> Cluster:
        if self._owner is not None:
            os.chown(self.base, self._owner.pw_uid, self._owner.pw_gid)
            os.chmod(self.base, 0o700)
        self._run(_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", self.USER,
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        # Durability is not what a throwaway cluster is for; speed is.
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=300 -c shared_buffers=64MB")
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.base / "server.log"), "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "node") -> str:
        """A new empty database; its URL."""
        return create_database(self.url(), prefix)


_NAMES = itertools.count(1)


def create_database(admin_url: str, prefix: str = "node") -> str:
    """A new empty database on the server of `admin_url` (a URL of any database there that
    may CREATE DATABASE); the new database's URL."""
    name = f"{prefix}_{os.getpid()}_{next(_NAMES)}_{time.time_ns() % 10**9}"
    result = subprocess.run(
        [_binary("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin_url,
         "-c", f'CREATE DATABASE "{name}"'],
        capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"psql: {result.stderr.strip()}")
    return admin_url.rsplit("/", 1)[0] + "/" + name
