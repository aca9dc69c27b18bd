"""A node's services in this process (a real database of the run's engine, no HTTP
server), for tests that drive publishing code step by step."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chapterhouse.config import parse, render_initial
from chapterhouse.harness import new_storage_url
from chapterhouse.services import Services, initialise, running

DOMAIN = "127.0.0.1:1"  # nothing listens there: anything sent would fail, not arrive


def raw_config(domain: str, scheme: str = "http") -> dict[str, Any]:
    """A new node's configuration, on the run's engine (`--engine`): on PostgreSQL a fresh
    database of the run's cluster, else the SQLite file of the data directory."""
    raw = tomllib.loads(render_initial(domain, scheme, "Test"))
    if (url := new_storage_url()) is not None:
        raw["storage"]["url"] = url
    return raw


@pytest.fixture
async def services(tmp_path: Path, engine: str) -> AsyncIterator[Services]:
    config = parse(raw_config(DOMAIN), tmp_path)
    await initialise(config)
    async with running(config) as node:
        yield node
