"""Setting config keys by name: `chapterhouse init --set` and `chapterhouse config set`.

A setting is `SECTION.KEY=VALUE`, the key as named in config.example.toml and the value a
TOML value (`true`, `0.02`, `["a"]`, `"text"`); a bare word that is not TOML is taken as a
string, so `log.level=debug` works without quotes. The keys are read from the example
file, which a test holds together with what `config.parse` accepts, so a new key needs no
change here. Every change is validated as a whole config before anything is written.
"""

from __future__ import annotations

import argparse
import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chapterhouse import toml_file
from chapterhouse.config import CONFIG_FILE, Config, ConfigError, example_text, parse

# Part of every actor id: `init --domain` sets it, and nothing may change it afterwards.
PERMANENT = {"node.domain": "is permanent; it is set once, by `chapterhouse init --domain`"}


@functools.cache
def known_keys() -> frozenset[str]:
    example = tomllib.loads(example_text())
    return frozenset(f"{section}.{key}" for section, keys in example.items() for key in keys)


def parse_value(literal: str) -> Any:
    """A TOML value, or the text itself when it is not one (a bare word)."""
    try:
        parsed = tomllib.loads(f"value = {literal}")
    except tomllib.TOMLDecodeError:
        return literal
    # "1\nother = 2" parses too, as two keys: that is text, not one value.
    return parsed["value"] if list(parsed) == ["value"] else literal


def parse_assignment(text: str) -> tuple[str, Any]:
    """`SECTION.KEY=VALUE` → (key, value); ConfigError naming the key if it is not one."""
    key, equals, literal = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ConfigError(f"{text!r} is not SECTION.KEY=VALUE")
    if key not in known_keys():
        raise ConfigError(f"unknown key {key!r}: keys are SECTION.KEY as in "
                          "config.example.toml, e.g. federation.allow_private_addresses")
    if key in PERMANENT:
        raise ConfigError(f"{key} {PERMANENT[key]}")
    return key, parse_value(literal.strip())


def assignment_argument(text: str) -> tuple[str, Any]:
    """parse_assignment for argparse: a bad setting is the CLI's one-line error, exit 2."""
    try:
        return parse_assignment(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def assignment(key: str, item: object) -> str:
    """The `--set` argument that sets key to a Python value (for scripts and tests)."""
    return f"{key}={toml_file.value(item)}"


def apply(text: str, settings: Mapping[str, object], data_dir: Path) -> tuple[str, Config]:
    """The config text with settings applied, and the Config it makes; ConfigError if the
    result is not a valid config (the message names the key)."""
    values = {}
    for key, item in settings.items():
        section, _, name = key.partition(".")
        values[(section, name)] = item
    try:
        edited = toml_file.set_values(text, values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
    return edited, parse(tomllib.loads(edited), data_dir)


def set_in_file(data_dir: Path, settings: Mapping[str, object]) -> Config:
    """Change keys of an existing node's config.toml; nothing is written if one is bad."""
    path = data_dir / CONFIG_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{data_dir} holds no node ({CONFIG_FILE} does not exist)") from None
    try:
        edited, config = apply(text, settings, data_dir)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    # Replaced in one step: a node starting meanwhile reads the old file or the new one.
    temporary = path.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
    try:
        temporary.write_text(edited, "utf-8")
        os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return config
