from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chapterhouse.config import ConfigError, example_text, parse, render_initial, split_host_port


def test_the_example_is_a_valid_config_with_every_key() -> None:
    config = parse(tomllib.loads(example_text()), Path("/srv/node"))
    assert config.base_url == "https://chapters.example.org"
    assert config.database == Path("/srv/node/chapterhouse.sqlite3")
    assert (config.listen_host, config.listen_port) == ("127.0.0.1", 8080)


def test_render_initial_fills_in_the_node() -> None:
    text = render_initial("127.0.0.1:9000", "http", 'Back\\slash "quoted"')
    config = parse(tomllib.loads(text), Path("/d"))
    assert config.base_url == "http://127.0.0.1:9000"
    assert config.name == 'Back\\slash "quoted"'
    assert config.hostname == "127.0.0.1"


@pytest.mark.parametrize("value,expected", [
    ("a.example", ("a.example", None)), ("a.example:81", ("a.example", 81)),
    ("[::1]:8080", ("::1", 8080)), ("0.0.0.0:80", ("0.0.0.0", 80)),
])
def test_split_host_port(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(value, None) == expected


@pytest.mark.parametrize("raw,reason", [
    ({}, "node.domain is required"),
    ({"node": {"domain": "a.example", "scheme": "ftp"}}, "node.scheme"),
    ({"node": {"domain": "a.example", "name": 3}}, "node.name must be a string"),
    ({"node": {"domain": "a.example"}, "server": {"listen": "a:b"}}, "server.listen"),
    ({"node": {"domain": "a.example"}, "log": {"level": "loud"}}, "log.level"),
    ({"node": {"domain": "a.example"}, "node2": {}}, "unknown section"),
    ({"node": "a.example"}, "[node] must be a table"),
])
def test_bad_configs_name_the_key(raw: dict, reason: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse(raw, Path("/d"))


@pytest.mark.parametrize("storage,expected", [
    ({}, Path("/d/chapterhouse.sqlite3")),
    ({"url": "node.sqlite3"}, Path("/d/node.sqlite3")),
    ({"url": "/srv/data/node.sqlite3"}, Path("/srv/data/node.sqlite3")),
    ({"database": "old.sqlite3"}, Path("/d/old.sqlite3")),  # the key before storage.url
    ({"url": "postgresql://ch:pw@db.internal:5433/chapters"},
     "postgresql://ch:pw@db.internal:5433/chapters"),
    ({"url": "postgres://ch@/chapters?host=/run/postgresql"},
     "postgres://ch@/chapters?host=/run/postgresql"),
])
def test_storage_url_names_a_sqlite_file_or_a_postgresql_database(
    storage: dict, expected: Path | str  # type: ignore[type-arg]
) -> None:
    config = parse({"node": {"domain": "a.example"}, "storage": storage}, Path("/d"))
    assert config.database == expected


@pytest.mark.parametrize("storage,reason", [
    ({"url": "a.sqlite3", "database": "b.sqlite3"}, "both set"),
    ({"url": " "}, "storage.url must not be empty"),
    ({"url": "postgresql://ch@db.internal"}, "storage.url must name a database"),
    ({"url": "mysql://ch@db.internal/chapters"}, "a SQLite file or a postgresql:// URL"),
    ({"url": 5}, "storage.url must be a string"),
])
def test_bad_storage_urls_name_the_key(storage: dict, reason: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=reason):
        parse({"node": {"domain": "a.example"}, "storage": storage}, Path("/d"))
