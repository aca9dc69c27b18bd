"""The hierarchy's rules have one home: hierarchy/. The inbox and outbox pipelines call
into it and do not define them again; hierarchy/ never depends on the inbox, and the
outbox calls it only where it publishes.

These read the code, like tests/storage/test_seam.py, because a rule copied into a
handler works the day it is copied and drifts from the other copy later.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["actors", "chapterhouse", "federation", "inbox", "outbox", "storage", "web"]
# Names of hierarchy rules: defined in hierarchy/ and nowhere else. (Not `affiliate`: the
# command line names its closure that calls it so.)
RULES = {"may_join", "RANKS", "LEVEL_WORDS", "goes_up", "pass_on", "parent_for_items",
         "item_published", "affiliate_local", "queue_actor_update",
         "local_chapter_handle", "relay_received", "pass_on_delete", "announced_delete",
         "join_requested", "child_left", "join_answered"}
# The outbox's publishing paths hand what they publish to the relay, in their transaction.
OUTBOX_CALLERS = {"outbox/content.py", "outbox/publish.py"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.Module) -> set[str]:
    """Every module an import statement names, with `from a import b` as both a and a.b."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _files(*packages: str) -> list[Path]:
    return [p for package in packages for p in sorted((ROOT / package).rglob("*.py"))]


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_pipelines_import_no_hierarchy_module_of_the_outbox() -> None:
    offenders = [
        (_name(path), module) for path in _files("inbox", "outbox", "web", "chapterhouse")
        for module in _imported(_tree(path))
        if module in ("outbox.hierarchy", "outbox.relay")
    ]
    assert offenders == []
    assert not (ROOT / "outbox" / "hierarchy.py").exists()
    assert not (ROOT / "outbox" / "relay.py").exists()


def test_nothing_outside_hierarchy_defines_its_rules() -> None:
    offenders = []
    for path in _files(*PACKAGES):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = {node.name}
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
            else:
                continue
            offenders += [(_name(path), name) for name in names & RULES]
    assert offenders == []


def test_the_rules_are_where_the_pipelines_find_them() -> None:
    defined = {
        node.name for path in _files("hierarchy") for node in ast.walk(_tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    } | {
        t.id for path in _files("hierarchy") for node in ast.walk(_tree(path))
        if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    }
    assert defined >= RULES


def test_dependencies_point_from_the_inbox_through_the_hierarchy_to_the_outbox() -> None:
    upward = [
        (_name(path), module) for path in _files("hierarchy")
        for module in _imported(_tree(path))
        if module.split(".")[0] in ("inbox", "web", "chapterhouse.cli")
    ]
    assert upward == []
    outbox_calls = {
        _name(path) for path in _files("outbox")
        if any(m.split(".")[0] == "hierarchy" for m in _imported(_tree(path)))
    }
    assert outbox_calls <= OUTBOX_CALLERS
