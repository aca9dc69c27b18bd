"""`chapterhouse demo`: four real nodes, minutes that reach the top, and nothing left behind."""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes import ROOT, request, run_cli

NAMES = ("dublin", "leinster", "ireland", "international")
READY_TIMEOUT = 240  # the first run makes four nodes; each step may take up to 30 s


@pytest.fixture(autouse=True)
def _once(engine: str) -> None:
    # The demo makes its nodes with `init`, on SQLite whatever the run's engine: the
    # PostgreSQL pass would only repeat the SQLite one (a minute of the suite's time).
    if engine == "postgresql":
        pytest.skip("`chapterhouse demo` runs its nodes on SQLite; tested in the SQLite pass")


def free_base_port() -> int:
    """A random base in 20000-40000 whose four ports all bind now."""
    while True:
        base = random.randint(20000, 40000)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + 4):
                sockets.append(socket.socket())
                sockets[-1].bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()


def is_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


class DemoRun:
    """`python -m chapterhouse demo` in the background, its stdout read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chapterhouse", "demo", *args], cwd=ROOT, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, prefix: str, timeout: float = READY_TIMEOUT) -> list[str]:
        """Lines up to the first one that starts with prefix."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} line within {timeout} s:\n"
                                     + "\n".join(self.stdout)) from None
            if line is None:
                self.process.wait()
                raise AssertionError(f"demo exited ({self.process.returncode}) before "
                                     f"{prefix!r}:\n" + "\n".join(self.stdout)
                                     + self.process.stderr.read())  # type: ignore[union-attr]
            self.stdout.append(line)
            if line.startswith(prefix):
                return self.stdout

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.finish()

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        while (line := self.lines.get(timeout=5)) is not None:
            self.stdout.append(line)
        self.stderr = self.process.stderr.read()  # type: ignore[union-attr]
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # its nodes get SIGTERM from the kernel (PR_SET_PDEATHSIG)
            self.process.wait()


@pytest.fixture
def demos() -> Iterator[list[DemoRun]]:
    runs: list[DemoRun] = []
    yield runs
    for run in runs:
        run.kill()


def posted_minutes(lines: list[str]) -> tuple[str, str]:
    (match,) = [m for line in lines if (m := re.search(r'posted minutes "(.+)" as (\S+)', line))]
    return match[1], match[2]


def international_page(base: int) -> str:
    page = request(f"http://127.0.0.1:{base + 3}/@international", headers={"Accept": "text/html"})
    assert page.status == 200
    return page.text


def test_minutes_reach_international_and_the_nodes_stop_on_sigint_then_on_sigterm(
    tmp_path: Path, demos: list[DemoRun]
) -> None:
    base = free_base_port()
    demos.append(first := DemoRun("--dir", str(tmp_path), "--base-port", str(base)))
    lines = first.until("ready")
    title, url = posted_minutes(lines)
    page = international_page(base)
    assert title in page and f'href="{url}"' in page
    text = "\n".join(lines)
    assert f"http://127.0.0.1:{base}/@dublin" in text and f"@dublin@127.0.0.1:{base}" in text
    assert first.stop(signal.SIGINT) == 0, first.stderr
    assert first.stdout[-1].startswith("stopped all four nodes")
    assert "SIGINT received: stopping the four nodes" in first.stdout
    assert all(is_closed(port) for port in range(base, base + 4))
    for name in NAMES:
        assert "stopped" in (tmp_path / f"{name}.log").read_text()

    # Again on the same directory: the nodes are reused, and new minutes climb too.
    demos.append(second := DemoRun("--dir", str(tmp_path)))
    lines = second.until("ready")
    assert not [line for line in lines if "created" in line]
    assert [line for line in lines if "reusing the node" in line] == [
        f"{name}: reusing the node in {tmp_path / name}" for name in NAMES]
    title, again = posted_minutes(lines)
    assert again != url and f'href="{again}"' in international_page(base)
    assert second.stop(signal.SIGTERM) == 0, second.stderr
    assert all(is_closed(port) for port in range(base, base + 4))

    # Those nodes were made for these ports: other ports are refused, and nothing starts.
    result = run_cli("demo", "--dir", str(tmp_path), "--base-port", str(base + 10))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and f"--base-port {base}" in result.stderr


def test_a_failing_node_stops_those_already_started(tmp_path: Path, demos: list[DemoRun]) -> None:
    base = free_base_port()
    # An International node from an earlier run whose database was destroyed.
    result = run_cli("init", "--data", str(tmp_path / "international"),
                     "--domain", f"127.0.0.1:{base + 3}")
    assert result.returncode == 0, result.stderr
    (tmp_path / "international" / "chapterhouse.sqlite3").write_bytes(b"not a database" * 512)
    demos.append(run := DemoRun("--dir", str(tmp_path), "--base-port", str(base)))
    assert run.finish(timeout=READY_TIMEOUT) == 1
    assert run.stderr.startswith("chapterhouse: error: international:")
    assert run.stderr.count("\n") == 1
    assert "ireland: serving" in "\n".join(run.stdout)
    assert run.stdout[-1].startswith("stopped 3 nodes")
    assert all(is_closed(port) for port in range(base, base + 4))


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    base = free_base_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 2))
        taken.listen()
        result = run_cli("demo", "--dir", str(tmp_path / "fed"), "--base-port", str(base))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"port {base + 2} on 127.0.0.1 is taken" in result.stderr
    assert not (tmp_path / "fed").exists()


def test_help() -> None:
    result = run_cli("demo", "--help")
    assert result.returncode == 0
    assert "--dir DIR" in result.stdout and "--base-port N" in result.stdout
    assert "International" in result.stdout
