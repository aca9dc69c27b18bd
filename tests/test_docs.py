"""The documentation promises hold: config keys, CLI commands and our JSON-LD terms."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from chapterhouse.cli import build_parser
from federation.vocab import CHAPTERHOUSE_TERMS, DECISION_TERMS, NAMESPACE
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
    ours = {term for term, definition in {**CHAPTERHOUSE_TERMS, **CONTENT_TERMS,
                                          **DECISION_TERMS}.items()
            if "chapterhouse:" in json.dumps(definition)}
    assert {"level", "meetingDate", "Tally", "countMethod", "weightedVotes"} <= ours
    for term in ours:
        assert f"| `{term}` | `chapterhouse:{term}` |" in federation, term


def test_federation_md_examples_of_decisions_are_real_documents() -> None:
    # Taken from a run of the code and kept whole: the Question and the tallies verify as
    # they stand, so nothing in them may be shortened or made up by hand.
    section = read("FEDERATION.md").split("## Decisions", 1)[1].split("\n## ", 1)[0]
    question, add = (json.loads(block) for block in
                     re.findall(r"```json\n(.*?)\n```", section, re.S)[:2])
    assert question["type"] == "Question" and question["resultFinal"] is True
    assert set(DECISION_TERMS) - {"Tally", "final", "late", "chapter", "eligible", "voters",
                                  "ballots", "subchapters", "weightedVotes"} <= set(question)
    assert all("weightedVotes" in option for option in question["oneOf"])
    assert add["type"] == "Add" and add["target"] == question["id"]
    assert [tally["type"] for tally in add["object"]] == ["Tally", "Tally"]
    for document in (question, *add["object"]):
        proof = document["proof"]
        assert proof["cryptosuite"] == "eddsa-jcs-2022" and len(proof["proofValue"]) > 80
        assert proof["verificationMethod"] == f"{document['attributedTo']}#ed25519-key"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    commands = re.findall(r"^(make \w+)", read("README.md").split("```sh", 1)[1], re.M)
    assert commands[:2] == ["make run", "make test"]
    assert "make test" in read(".ci/run")
