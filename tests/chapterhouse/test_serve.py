"""`chapterhouse serve` as a process: starts, answers, stops cleanly on a signal."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from tests.nodes import Node, free_port, wait_for

AS2 = "application/activity+json"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(fresh_node: Node, signum: int) -> None:
    fresh_node.start()
    assert fresh_node.get("/actor", accept=AS2).status == 200
    assert fresh_node.stop(signum) == 0
    log = fresh_node.log()
    assert "serving" in log and "stopped" in log
    assert "Traceback" not in log


def test_a_restarted_node_keeps_its_actors_and_keys(fresh_node: Node) -> None:
    assert fresh_node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                          "--level", "local").returncode == 0
    fresh_node.start()
    before = fresh_node.get("/actors/dublin", accept=AS2).json()
    fresh_node.stop()
    fresh_node.start()
    after = fresh_node.get("/actors/dublin", accept=AS2).json()
    assert after == before


def test_serve_on_a_port_in_use_fails_with_one_line(fresh_node: Node) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = fresh_node.cli("serve", "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_a_corrupt_sqlite_file_fails_with_one_line(tmp_path: Path) -> None:
    node = Node.init(tmp_path, settings={"storage.url": "chapterhouse.sqlite3"})
    assert isinstance(node.database, Path)
    node.database.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        node.database.with_name(node.database.name + suffix).unlink(missing_ok=True)
    for command in (["serve"], ["chapter", "list"], ["member", "add", "ana", "--chapter", "x"]):
        result = node.cli(*command)
        assert result.returncode == 1, command
        assert "chapterhouse.sqlite3: file is not a database" in result.stderr
        assert "Traceback" not in result.stderr


def test_serve_without_its_postgresql_server_fails_with_one_line(fresh_node: Node) -> None:
    # Nothing listens on port 1: the server is down, or the URL is wrong.
    fresh_node.configure({"storage.url": "postgresql://chapterhouse:secret@127.0.0.1:1/node"})
    for command in (["serve"], ["chapter", "list"], ["member", "add", "ana", "--chapter", "x"]):
        result = fresh_node.cli(*command)
        assert result.returncode == 1, command
        assert result.stderr.count("\n") == 1, result.stderr
        assert "postgresql://chapterhouse@127.0.0.1:1/node: cannot connect" in result.stderr
        assert "secret" not in result.stderr


def test_two_serve_processes_share_one_postgresql_database(fresh_node: Node) -> None:
    if fresh_node.engine != "postgresql":
        pytest.skip("only a PostgreSQL database is shared by several serve processes")
    first = fresh_node
    first.chapter("dublin", "IOPS Dublin")
    # The same data directory and config, another port: what a second process behind
    # the reverse proxy is.
    second = Node(first.data, free_port())
    second.log_path = first.data.parent / "second.log"
    first.start()
    second.start()
    try:
        assert second.get("/actors/dublin", accept=AS2).json() == \
            first.get("/actors/dublin", accept=AS2).json()
        chapters = first.get("/nodeinfo/2.1").json()["metadata"]["chapters"]
        first.chapter("cork", "IOPS Cork")  # a write neither process made
        for node in (first, second):
            assert node.get("/actors/cork", accept=AS2).status == 200
            # Each process's caches notice a commit made elsewhere.
            wait_for(lambda node=node: node.get("/nodeinfo/2.1").json()["metadata"]["chapters"]
                     == chapters + 1, what="NodeInfo to count the new chapter")
    finally:
        assert second.stop() == 0
        assert first.stop() == 0
    assert "Traceback" not in first.log() + second.log()
