"""Config keys set by name: `init --set`, `config set`, and the writer behind both."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chapterhouse import toml_file
from chapterhouse.config import ConfigError, example_text
from chapterhouse.settings import parse_assignment, parse_value
from tests.nodes import FEDERATING, Node, run_cli, wait_for

AS2 = "application/activity+json"


@pytest.mark.parametrize("literal,expected", [
    ("true", True), ("0.02", 0.02), ("50", 50), ('["127.0.0.1:8101"]', ["127.0.0.1:8101"]),
    ('"two words"', "two words"), ("debug", "debug"), ("two words", "two words"),
    ("", ""), ("1\nother = 2", "1\nother = 2"),
])
def test_values_are_toml_or_else_text(literal: str, expected: object) -> None:
    assert parse_value(literal) == expected


@pytest.mark.parametrize("text,reason", [
    ("nope.x=1", "unknown key 'nope.x'"), ("allow_private_addresses=true", "unknown key"),
    ("federation.allow_private_addresses", "is not SECTION.KEY=VALUE"),
    ("node.domain=other.example", "node.domain is permanent"),
])
def test_bad_keys_are_named(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_assignment(text)


@pytest.mark.parametrize("item", [
    'quote " backslash \\ newline \n tab \t bell \x07 del \x7f é 🙂', 0.02, 1e-05, 3,
    False, ["a.example", "b.example:1"], [],
])
def test_written_values_read_back(item: object) -> None:
    assert tomllib.loads(f"v = {toml_file.value(item)}")["v"] == item


def test_set_values_keeps_comments_and_adds_what_is_missing() -> None:
    text = toml_file.set_values(example_text(), {
        ("delivery", "backoff_scale"): 0.02, ("log", "level"): "debug",
        ("hierarchy", "accept_subchapters_from"): ["a.example"]})
    assert text.splitlines()[0] == "# Chapterhouse node configuration."
    before = [line for line in example_text().splitlines() if not line.startswith(
        ("backoff_scale", "level", "accept_subchapters_from"))]
    assert [line for line in text.splitlines() if line in before] == before
    raw = tomllib.loads(text)
    assert raw["delivery"]["backoff_scale"] == 0.02 and raw["log"]["level"] == "debug"
    assert raw["hierarchy"]["accept_subchapters_from"] == ["a.example"]

    short = "# mine\n[node]\ndomain = \"a.example\"\n\n[log]\nlevel = \"info\"\n"
    edited = toml_file.set_values(short, {("node", "name"): "N", ("delivery", "concurrency"): 4})
    assert edited.startswith("# mine\n[node]\ndomain = \"a.example\"\nname = \"N\"\n")
    assert tomllib.loads(edited) == {"node": {"domain": "a.example", "name": "N"},
                                     "log": {"level": "info"}, "delivery": {"concurrency": 4}}


def test_a_file_the_editor_cannot_follow_is_rendered_afresh() -> None:
    text = '[hierarchy]\naccept_subchapters_from = [\n  "a.example",\n]\n'
    edited = toml_file.set_values(text, {("hierarchy", "accept_subchapters_from"): ["b"]})
    assert tomllib.loads(edited) == {"hierarchy": {"accept_subchapters_from": ["b"]}}


@pytest.mark.parametrize("setting,reason", [
    ("nope.x=1", "unknown key 'nope.x'"),
    ("federation.allow_private_addresses=yes", "federation.allow_private_addresses must be"),
    ("delivery.backoff_scale=0", "delivery.backoff_scale must be"),
    ("delivery.concurrency=1.5", "delivery.concurrency must be"),
    ("hierarchy.accept_subchapters_from=[1]", "hierarchy.accept_subchapters_from must be"),
    ("log.level=loud", "log.level must be"),
])
def test_init_refuses_a_bad_setting_and_writes_nothing(
    tmp_path: Path, setting: str, reason: str
) -> None:
    result = run_cli("init", "--data", str(tmp_path / "n"), "--domain", "127.0.0.1:9",
                     "--set", "log.level=debug", "--set", setting)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and reason in result.stderr
    assert not (tmp_path / "n").exists()


def test_config_set_refuses_a_bad_setting_and_changes_nothing(tmp_path: Path) -> None:
    node = Node.init(tmp_path)
    before = (node.data / "config.toml").read_text()
    for setting in ("delivery.concurrency=0", "nope.x=1", "node.domain=other.example"):
        result = node.cli("config", "set", "log.level=debug", setting)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert setting.split("=")[0] in result.stderr
    assert (node.data / "config.toml").read_text() == before
    assert not list(node.data.glob(".*.tmp"))

    result = node.cli("config", "set", "delivery.concurrency=4", 'node.name="My node"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'delivery.concurrency = 4\nnode.name = "My node"\n'
    raw = tomllib.loads((node.data / "config.toml").read_text())
    assert raw["delivery"]["concurrency"] == 4 and raw["node"]["name"] == "My node"


def test_nodes_made_with_init_set_honour_it(tmp_path: Path) -> None:
    """Without allow_private_addresses, neither node would reach the other on 127.0.0.1."""
    a = Node.init(tmp_path, "a", settings=FEDERATING).chapter("dublin", "IOPS Dublin")
    b = Node.init(tmp_path, "b", settings=FEDERATING).chapter("cork", "IOPS Cork")
    b.run("member", "add", "bob", "--chapter", "cork")
    raw = tomllib.loads((a.data / "config.toml").read_text())
    assert raw["federation"]["allow_private_addresses"] is True
    assert raw["delivery"]["backoff_scale"] == 0.02
    a.start()
    b.start()
    try:
        b.run("follow", f"{a.base}/actors/dublin", "--as", "bob")
        wait_for(lambda: b.sql("SELECT state FROM following") == [("accepted",)],
                 what="A to accept bob's follow and B to hear of it")
        assert a.get("/actors/dublin/followers", accept=AS2).json()["totalItems"] == 1
    finally:
        a.stop()
        b.stop()
