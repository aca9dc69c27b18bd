"""Real Chapterhouse node processes on 127.0.0.1 for tests, driven through the CLI."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, below the kernel's ephemeral range: a node's port is
    chosen at init and bound only at start, and in between an outgoing connection could
    take an ephemeral port. Never the same port twice in one test session."""
    low, high = 20000, 32000
    while True:
        port = random.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def run_cli(
    *args: str, timeout: float = 60, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chapterhouse", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, input=stdin,
    )


def wait_for(condition: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    """Poll until condition() is truthy; its value, or AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


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
    """One HTTP request, redirects not followed, any status returned (never raised)."""
    parts = urlsplit(url)
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
    data: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data.parent / f"{self.data.name}.log"

    @classmethod
    def init(cls, parent: Path, name: str = "node") -> Node:
        node = cls(parent / name, free_port())
        result = run_cli("init", "--data", str(node.data), "--domain", node.domain)
        assert result.returncode == 0, result.stderr
        return node

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.domain}"

    @property
    def database(self) -> Path:
        return self.data / "chapterhouse.sqlite3"

    def configure(self, **values: object) -> None:
        """Set keys of config.toml by name (each key name is unique in the example)."""
        path = self.data / "config.toml"
        text = path.read_text()
        for key, value in values.items():
            literal = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
            text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {literal}", text)
            assert count == 1, key
        path.write_text(text)

    def federating(self) -> Node:
        """Let this node talk to the other nodes on 127.0.0.1, with retries in seconds."""
        self.configure(allow_private_addresses=True, backoff_scale=0.02)
        return self

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as conn:
            return conn.execute(query, params).fetchall()

    def chapter(self, slug: str, name: str, level: str = "local", *extra: str) -> Node:
        """Create a chapter through the CLI (the test fails if that does not work)."""
        result = self.cli("chapter", "create", slug, "--name", name, "--level", level, *extra)
        assert result.returncode == 0, result.stderr
        return self

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--data", str(self.data), stdin=stdin)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chapterhouse", "serve", "--data", str(self.data),
             "--listen", f"127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited early:\n{self.log()}")
            try:
                if request(f"{self.base}/.well-known/nodeinfo").status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"node did not answer within 30 s:\n{self.log()}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
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

    def get(self, path: str, accept: str | None = None, **headers: str) -> Response:
        if accept is not None:
            headers["Accept"] = accept
        return request(f"{self.base}{path}", headers=headers)
