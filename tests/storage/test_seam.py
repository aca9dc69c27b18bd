"""The storage seam holds: SQL, drivers and rows stay in storage/, and times are one type.

These read the code and the schema rather than behaviour, because the failure they guard
against (a query written in a web handler, a time column left as REAL) works on one
engine and breaks on the other only on the day someone switches.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from storage.database import Database

ROOT = Path(__file__).resolve().parents[2]
ABOVE_STORAGE = ["actors", "chapterhouse", "federation", "hierarchy", "inbox", "outbox", "web"]
# The test harness runs tests' own SQL on either engine (Node.sql), and the throwaway
# cluster creates databases: both are tools for tests and benchmarks, not the node.
TOOLS = {"chapterhouse/harness.py", "chapterhouse/pg_cluster.py"}
DRIVERS = {"sqlite3", "aiosqlite", "asyncpg", "psycopg"}
QUERY_METHODS = {"execute", "executemany", "fetchall", "fetchone", "fetchvalue",
                 "insert"}
SQL = re.compile(r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s)",
                 re.IGNORECASE | re.DOTALL)
TIME_COLUMN = re.compile(r"(_at|_since|^published|^updated)$")


def _modules() -> list[Path]:
    found = []
    for package in ABOVE_STORAGE:
        for path in sorted((ROOT / package).rglob("*.py")):
            if str(path.relative_to(ROOT)) not in TOOLS:
                found.append(path)
    return found


def test_no_code_above_storage_imports_a_database_driver() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n in DRIVERS]
    assert offenders == []


def test_no_code_above_storage_runs_sql() -> None:
    offenders = []
    for path in _modules():
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in QUERY_METHODS and node.args
                    and (isinstance(node.args[0], ast.JoinedStr | ast.BinOp)
                         or (isinstance(node.args[0], ast.Constant)
                             and isinstance(node.args[0].value, str)))):
                # A query's text is a string; list.insert(0, x) is not one.
                offenders.append(f"{where}:{node.lineno}: .{node.func.attr}(…)")
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and SQL.match(node.value)):
                offenders.append(f"{where}:{node.lineno}: {node.value[:40]!r}")
    assert offenders == []


async def test_every_time_column_has_the_engine_s_one_time_type(store_location: Path | str,
                                                                engine: str) -> None:
    async with Database(store_location, migrate=True) as db:
        if engine == "postgresql":
            rows = await db.fetchall(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public'")
            columns = [(r[0], r[1], r[2]) for r in rows]
            expected = "timestamp with time zone"
        else:
            tables = [r[0] for r in await db.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            columns = []
            for table in tables:
                for info in await db.fetchall(f"PRAGMA table_info({table})"):
                    columns.append((table, info[1], info[2].upper()))
            expected = "TEXT"
    times = [(t, c, kind) for t, c, kind in columns if TIME_COLUMN.search(c)]
    assert len(times) > 30  # every table has at least one
    assert [(t, c, kind) for t, c, kind in times if kind != expected] == []
