from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.nodes import Node

AS2 = "application/activity+json"
FOLLOWERS_OF_IRELAND = 45


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
    with sqlite3.connect(node.database) as conn:
        (ireland,) = conn.execute("SELECT id FROM actors WHERE handle = 'ireland'").fetchone()
        conn.executemany(
            "INSERT INTO followers (actor_id, follower_iri, state, created_at)"
            " VALUES (?, ?, 'accepted', '2026-11-01T00:00:00Z')",
            [(ireland, f"https://social.example/users/f{i}") for i in range(FOLLOWERS_OF_IRELAND)],
        )
        conn.execute(
            "INSERT INTO followers (actor_id, follower_iri, state, created_at)"
            " VALUES (?, ?, 'requested', '2026-11-01T00:00:00Z')",
            (ireland, "https://social.example/users/pending"),
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
