"""Nodes for the benches on either engine, run by one or more `chapterhouse serve` processes.

`--engines sqlite,postgresql` picks the engines a bench compares (both by default). A
PostgreSQL node gets a new database on a throwaway cluster (chapterhouse.pg_cluster) that
the bench starts for its run. Several serve processes of one node share its data
directory and database, each on its own port, as behind a reverse proxy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chapterhouse.harness import POSTGRES_ENV, Node, free_port
from chapterhouse.pg_cluster import Cluster

ENGINES = ("sqlite", "postgresql")


def engines(text: str) -> list[str]:
    """The value of --engines: a comma-separated list, in the order given."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in ENGINES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"engines are {', '.join(ENGINES)}; got {text!r}")
    return list(dict.fromkeys(chosen))


def add_engines_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engines", type=engines, default=list(ENGINES),
                        help="comma-separated: sqlite, postgresql (default both)")


@contextlib.contextmanager
def cluster_for(chosen: list[str]) -> Iterator[Cluster | None]:
    """A running PostgreSQL cluster if postgresql is among the engines, else None."""
    # A node made by the harness would otherwise go to the test suite's server.
    os.environ.pop(POSTGRES_ENV, None)
    if "postgresql" not in chosen:
        yield None
        return
    with Cluster() as cluster:
        yield cluster


def storage_url(engine: str, cluster: Cluster | None) -> str | None:
    """A new database's URL on PostgreSQL; None for SQLite (the data directory's file)."""
    if engine == "sqlite":
        return None
    assert cluster is not None, "postgresql asked for without a cluster"
    return cluster.new_database("bench")


def settings_for(engine: str, cluster: Cluster | None,
                 settings: Mapping[str, object]) -> dict[str, object]:
    url = storage_url(engine, cluster)
    return {**settings, **({} if url is None else {"storage.url": url})}


@dataclass
class Served:
    """One node (a data directory, one database) and the serve processes running it."""

    node: Node
    engine: str
    processes: list[Node] = field(default_factory=list)

    @classmethod
    def init(cls, parent: Path, name: str, engine: str, cluster: Cluster | None,
             settings: Mapping[str, object]) -> Served:
        return cls(Node.init(parent, name, settings=settings_for(engine, cluster, settings)),
                   engine)

    @property
    def database(self) -> Path | str:
        return self.node.database

    @property
    def bases(self) -> list[str]:
        return [process.base for process in self.processes]

    def start(self, count: int, timeout: float = 60) -> None:
        """`count` serve processes: the node's own port, then one more port each."""
        for i in range(count):
            process = self.node if i == 0 else Node(self.node.data, free_port())
            if i:
                process.log_path = self.node.data.parent / f"{self.node.data.name}.{i}.log"
            self.processes.append(process)
            process.start(timeout)

    def stop(self) -> None:
        for process in self.processes:
            if process.running():
                process.stop()
        self.processes.clear()
