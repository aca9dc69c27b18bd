"""A node's services in this process (real SQLite file, no HTTP server), for tests that
drive publishing code step by step."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chapterhouse.config import parse, render_initial
from chapterhouse.services import Services, initialise, running

DOMAIN = "127.0.0.1:1"  # nothing listens there: anything sent would fail, not arrive


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    raw = tomllib.loads(render_initial(DOMAIN, "http", "Test"))
    config = parse(raw, tmp_path)
    await initialise(config)
    async with running(config) as node:
        yield node
