"""Fedify (@fedify/fedify from npm) as a running peer server, and a node for it to talk to."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.nodes import Node, free_port, request

PEER = Path(__file__).resolve().parent / "fedify"


class Fedify:
    def __init__(self, port: int, process: subprocess.Popen[str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.process = process
        self.alice = f"{self.base}/users/alice"

    def get(self, path: str) -> Any:
        response = request(f"{self.base}{path}")
        assert response.status == 200, response.text
        return response.json()

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        response = request(f"{self.base}{path}", method="POST",
                           headers={"Content-Type": "application/json"},
                           body=json.dumps(payload).encode())
        assert response.status == 200, response.text
        return response.json()

    def received(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.get("/_control/received") if a["type"] == kind]


@pytest.fixture(scope="module")
def fedify() -> Iterator[Fedify]:
    node_bin = shutil.which("node")
    assert node_bin, "Node.js is required for the Fedify peer"
    assert (PEER / "node_modules" / "@fedify" / "fedify").is_dir(), (
        "run `npm ci --prefix tests/peers/fedify` (`make test` does this)")
    port = free_port()
    process = subprocess.Popen([node_bin, str(PEER / "server.mjs"), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY"), line
    yield Fedify(port, process)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def chapter_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("fedify-peer")).federating()
    node.chapter("dublin", "IOPS Dublin")
    node.start()
    yield node
    node.stop()
