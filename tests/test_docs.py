"""The documentation promises hold: config keys, CLI commands and our JSON-LD terms."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from chapterhouse.cli import build_parser
from federation.vocab import CHAPTERHOUSE_TERMS, NAMESPACE
from outbox.items import CONTENT_TERMS

ROOT = Path(__file__).resolve().parent.parent


def read(name: str) -> str:
    return (ROOT / name).read_text("utf-8")


def test_every_config_key_is_documented_in_running_md() -> None:
    example = tomllib.loads(read("config.example.toml"))
    running = read("docs/running.md")
    for section, keys in example.items():
        for key in keys:
            assert f"`{section}.{key}`" in running, f"{section}.{key}"


def test_every_cli_command_is_in_the_docs() -> None:
    parser = build_parser()
    text = read("README.md") + read("docs/running.md")
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():  # type: ignore[union-attr]
        actions = [a for a in sub._actions if a.dest == "action"]
        names = [f"{name} {a}" for a in actions[0].choices] if actions else [name]
        for full in names:
            assert f"chapterhouse {full}" in text, full


def test_every_term_of_ours_is_in_federation_md() -> None:
    federation = read("FEDERATION.md")
    assert NAMESPACE in federation
    ours = {term for term, definition in {**CHAPTERHOUSE_TERMS, **CONTENT_TERMS}.items()
            if "chapterhouse:" in json.dumps(definition)}
    assert {"level", "meetingDate"} <= ours
    for term in ours:
        assert f"| `{term}` | `chapterhouse:{term}` |" in federation, term


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    commands = re.findall(r"^(make \w+)", read("README.md").split("```sh", 1)[1], re.M)
    assert commands[:2] == ["make run", "make test"]
    assert "make test" in read(".ci/run")
