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
