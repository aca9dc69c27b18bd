"""What is in a node's database, table by table, on either engine."""

from __future__ import annotations

from tests.nodes import Node


def table_names(node: Node) -> list[str]:
    """The node's own tables (not the engine's catalogue)."""
    if node.engine == "postgresql":
        query = ("SELECT table_name FROM information_schema.tables"
                 " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    return sorted(name for (name,) in node.sql(query))


def row_counts(node: Node, tables: list[str] | tuple[str, ...]) -> dict[str, int]:
    return {name: int(node.sql(f'SELECT count(*) FROM "{name}"')[0][0]) for name in tables}
