"""The chapterhouse command as an organiser uses it: clear output, one-line errors, exit 2."""

from __future__ import annotations

import sqlite3
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chapterhouse.cli import build_parser, main
from chapterhouse.harness import new_storage_url, run_sql
from storage.database import Location
from tests.nodes import Node, run_cli

# `init` on the run's engine: (capsys, data directory, more arguments) -> main's result.
Init = Callable[..., tuple[int, str, str]]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own exits (--help, usage errors)
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def location(data: Path | str) -> Location:
    """Where the node in `data` keeps its data, as its config says."""
    config = tomllib.loads((Path(data) / "config.toml").read_text())
    url = config.get("storage", {}).get("url", "chapterhouse.sqlite3")
    return url if "://" in url else Path(data) / url


def rows(data: Path | str, query: str) -> list[tuple[Any, ...]]:
    return run_sql(location(data), query)


@pytest.fixture
def init(capsys: pytest.CaptureFixture[str]) -> Init:
    """`chapterhouse init` of a node on the run's engine (a new PostgreSQL database each
    time on PostgreSQL runs)."""

    def made(data: Path | str, *args: str) -> tuple[int, str, str]:
        url = new_storage_url()
        storage = ["--set", f"storage.url={url}"] if url else []
        return run(capsys, "init", "--data", str(data), *args, *storage)

    return made


def test_init_writes_config_database_and_node_keys(tmp_path: Path, init: Init) -> None:
    data = tmp_path / "node"
    code, out, _ = init(data, "--domain", "chapters.example.org", "--name", 'IOPS "Ireland"')
    assert code == 0
    assert "https://chapters.example.org" in out
    config = tomllib.loads((data / "config.toml").read_text())
    assert config["node"] == {"domain": "chapters.example.org", "scheme": "https",
                              "name": 'IOPS "Ireland"', "language": "en",
                              "time_zone": "UTC"}
    assert rows(data, "SELECT a.kind, k.algorithm FROM actors a"
                      " JOIN actor_keys k ON k.actor_id = a.id ORDER BY k.algorithm") == [
        ("node", "ed25519"), ("node", "rsa-2048")]
    if isinstance(location(data), Path):
        with sqlite3.connect(location(data)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_init_uses_http_for_local_addresses(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "init", "--data", str(tmp_path / "n"), "--domain", "127.0.0.1:9000")
    assert code == 0 and "http://127.0.0.1:9000" in out
    code, out, _ = run(capsys, "init", "--data", str(tmp_path / "m"), "--domain", "localhost:9000",
                       "--scheme", "https")
    assert code == 0 and "https://localhost:9000" in out


def test_init_refuses_to_overwrite_a_node(tmp_path: Path, init: Init,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "node"
    assert init(data, "--domain", "a.example")[0] == 0
    before = rows(data, "SELECT id, kind, created_at FROM actors")
    code, _, err = run(capsys, "init", "--data", str(data), "--domain", "b.example")
    assert code == 2
    assert err.count("\n") == 1 and "refusing to overwrite" in err
    assert 'domain = "a.example"' in (data / "config.toml").read_text()
    # Nor the database of a node, from another directory.
    where = location(data)
    code, _, err = run(capsys, "init", "--data", str(tmp_path / "other"), "--domain",
                       "b.example", "--set", f"storage.url={where}")
    assert code == 2
    assert err.count("\n") == 1 and "already holds a node; refusing to overwrite it" in err
    assert not (tmp_path / "other" / "config.toml").exists()
    assert rows(data, "SELECT id, kind, created_at FROM actors") == before


@pytest.mark.parametrize("domain", ["", "Chapters.Example.org", "bad_host.example", "a.example:0",
                                    "a.example:99999", "https://a.example", "a..example",
                                    "[::1]:80", "a.example/path"])
def test_init_refuses_bad_domains_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], domain: str
) -> None:
    code, _, err = run(capsys, "init", "--data", str(tmp_path / "n"), "--domain", domain)
    assert code == 2, domain
    assert err.startswith("chapterhouse: error: --domain") and err.count("\n") == 1
    assert not (tmp_path / "n").exists()


def test_chapters_and_members_share_one_namespace(tmp_path: Path, init: Init,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "n")
    assert init(data, "--domain", "chapters.example.org")[0] == 0
    assert run(capsys, "chapter", "create", "dublin", "--data", data, "--name", "IOPS Dublin",
               "--level", "local", "--location", "Dublin, Ireland")[0] == 0
    assert run(capsys, "member", "add", "ana", "--data", data, "--chapter", "dublin")[0] == 0

    code, _, err = run(capsys, "member", "add", "dublin", "--data", data, "--chapter", "dublin")
    assert code == 2 and "'dublin' is already taken" in err
    code, _, err = run(capsys, "chapter", "create", "ana", "--data", data, "--name", "Ana",
                       "--level", "local")
    assert code == 2 and "'ana' is already taken" in err
    code, _, err = run(capsys, "chapter", "create", "DUBLIN", "--data", data, "--name", "X",
                       "--level", "local")
    assert code == 2 and "lower case" in err

    code, out, _ = run(capsys, "chapter", "list", "--data", data)
    assert code == 0
    assert out.splitlines()[1].split()[:3] == ["dublin", "local", "Dublin,"]
    code, out, _ = run(capsys, "member", "list", "--data", data)
    assert code == 0 and out.splitlines()[1].startswith("ana ")
    code, out, _ = run(capsys, "member", "list", "--data", data, "--chapter", "dublin")
    assert "ana" in out


def test_a_chapter_older_than_the_node_keeps_its_founding_day(
        tmp_path: Path, init: Init, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "n")
    assert init(data, "--domain", "chapters.example.org")[0] == 0
    assert run(capsys, "chapter", "create", "dublin", "--data", data, "--name", "IOPS Dublin",
               "--level", "local", "--founded", "2013-05-01")[0] == 0
    code, out, _ = run(capsys, "chapter", "set", "dublin", "--data", data,
                       "--founded", "2012-11-20")
    assert code == 0 and "dublin: founded 2012-11-20" in out
    [(founded,)] = rows(data, "SELECT founded_at FROM chapters")
    assert str(founded).startswith("2012-11-20")
    # Its followers hear of it: an Update of the Group is queued with the change.
    [(update,)] = rows(data, "SELECT document FROM activities WHERE type = 'Update'")
    assert '"published": "2012-11-20T00:00:00Z"' in str(update)
    code, _, err = run(capsys, "chapter", "set", "dublin", "--data", data, "--founded", "soon")
    assert code == 2 and "--founded: enter the day" in err
    assert str(rows(data, "SELECT founded_at FROM chapters")[0][0]).startswith("2012-11-20")


@pytest.mark.parametrize("args,reason", [
    (["chapter", "create", "-x", "--name", "X", "--level", "local"], "error"),
    (["chapter", "create", "x-", "--name", "X", "--level", "local"], "must not start or end"),
    (["chapter", "create", "a" * 31, "--name", "X", "--level", "local"], "longer than 30"),
    (["chapter", "create", "dub lin", "--name", "X", "--level", "local"], "may only contain"),
    (["chapter", "create", "inbox", "--name", "X", "--level", "local"], "reserved"),
    (["chapter", "create", "x", "--name", " ", "--level", "local"], "name must not be empty"),
    (["chapter", "create", "x", "--name", "X", "--level", "town"], "invalid choice"),
    (["chapter", "create", "x", "--name", "X", "--level", "local", "--icon", "ftp://a/b.png"],
     "must be an http(s) URL"),
    (["chapter", "create", "x", "--name", "X"], "--level"),
    (["member", "add", "bob", "--chapter", "nowhere"], "no chapter 'nowhere'"),
    (["member", "list", "--chapter", "nowhere"], "no chapter 'nowhere'"),
    (["chapter", "rename", "x"], "invalid choice"),
    (["chapter", "create", "x", "--name", "X", "--level", "local", "--founded", "2019-02-30"],
     "--founded: enter the day the chapter was founded, such as 2019-03-08"),
    (["chapter", "create", "x", "--name", "X", "--level", "local", "--founded", "2999-01-01"],
     "--founded: the founding date cannot be in the future"),
])
def test_bad_arguments_get_one_line_and_exit_2_and_change_nothing(
    tmp_path: Path, init: Init, capsys: pytest.CaptureFixture[str], args: list[str], reason: str
) -> None:
    data = str(tmp_path / "n")
    assert init(data, "--domain", "chapters.example.org")[0] == 0
    code, _, err = run(capsys, *args, "--data", data)
    assert code == 2
    assert err.count("\n") == 1, err
    assert reason in err
    assert rows(data, "SELECT kind FROM actors") == [("node",)]  # the node only


@pytest.mark.parametrize("given,suggested", [
    ("Dublin City", "dublin-city"),
    ("Baile Átha Cliath", "baile-atha-cliath"),
    (" Cork/Kerry ", "cork-kerry"),
    ("dub lin", "dub-lin"),
    ("x-", "x"),
])
def test_a_suggested_handle_is_one_that_works(
    tmp_path: Path, init: Init, capsys: pytest.CaptureFixture[str], given: str, suggested: str
) -> None:
    data = str(tmp_path / "n")
    assert init(data, "--domain", "chapters.example.org")[0] == 0
    code, _, err = run(capsys, "chapter", "create", given, "--data", data, "--name", "X",
                       "--level", "local")
    assert code == 2 and err.count("\n") == 1, err
    assert f"(try {suggested!r})" in err, err
    code, out, err = run(capsys, "chapter", "create", suggested, "--data", data, "--name", "X",
                         "--level", "local")
    assert code == 0, err
    assert f"@{suggested}@chapters.example.org" in out


def test_no_suggestion_that_would_be_refused_again(
    tmp_path: Path, init: Init, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "n")
    assert init(data, "--domain", "chapters.example.org")[0] == 0
    for given in ("Inbox", "???"):
        code, _, err = run(capsys, "chapter", "create", given, "--data", data, "--name", "X",
                           "--level", "local")
        assert code == 2 and "try" not in err, err


def test_upward_is_offered_only_where_it_changes_something(
    capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "post", "minutes", "--help")
    assert code == 0 and "--upward" not in out  # minutes always go up
    for kind in ("news", "blog", "event", "poll"):
        code, out, _ = run(capsys, "post", kind, "--help")
        assert code == 0 and "--upward" in out, kind
    code, _, err = run(capsys, "post", "minutes", "--data", "x", "--chapter", "c",
                       "--title", "t", "--upward")
    assert code == 2 and "unrecognized arguments: --upward" in err


def test_commands_on_a_directory_without_a_node_say_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["chapter", "list"], ["member", "list"], ["serve"]):
        code, _, err = run(capsys, *args, "--data", str(tmp_path / "empty"))
        assert code == 2
        assert "chapterhouse init" in err and err.count("\n") == 1


def test_a_broken_config_is_a_clear_error(tmp_path: Path, init: Init,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "n"
    assert init(data, "--domain", "chapters.example.org")[0] == 0
    config = data / "config.toml"
    for text, reason in (("[node\n", "not valid TOML"),
                         (config.read_text() + "\n[extra]\n", "unknown section [extra]"),
                         (config.read_text().replace("[log]", "[log]\ncolour = 1"),
                          "unknown key log.colour"),
                         (config.read_text().replace('format = "console"', 'format = "xml"'),
                          "log.format")):
        original = config.read_text()
        config.write_text(text)
        code, _, err = run(capsys, "chapter", "list", "--data", str(data))
        assert code == 2 and reason in err, err
        config.write_text(original)


def _commands(parser):  # type: ignore[no-untyped-def]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            yield [name], sub
            for path, deeper in _commands(sub):
                yield [name, *path], deeper


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = list(_commands(build_parser()))
    assert {" ".join(c) for c, _ in commands} >= {
        "init", "serve", "chapter", "chapter create", "chapter list", "member",
        "member add", "member list"}
    for command, _ in commands:
        code, out, _ = run(capsys, *command, "--help")
        assert code == 0 and "usage: chapterhouse" in out, command


def test_the_entry_points_run() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("chapterhouse ")
    result = run_cli("chapter")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0


def test_serve_refuses_a_bad_listen_address(fresh_node: Node) -> None:
    for listen in ("nonsense:port", "127.0.0.1"):
        result = fresh_node.cli("serve", "--listen", listen)
        assert result.returncode == 2, listen
        assert "--listen" in result.stderr
