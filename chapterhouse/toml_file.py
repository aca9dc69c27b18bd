"""Writing config.toml: TOML values, and a line editor that keeps the file's comments.

tomllib only reads. config.toml holds strings, booleans, numbers and lists of strings, so
a writer for those is a few lines; tomli-w would add a dependency and still drop the
comments that make config.toml its own documentation (it writes whole documents only).
"""

from __future__ import annotations

import contextlib
import math
import re
import tomllib
from collections.abc import Mapping
from typing import Any

# Only what config.toml uses: `[section]` headers and `key = value` with a bare key.
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+)\s*=")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}

Document = dict[str, dict[str, Any]]


def string(text: str) -> str:
    """A TOML basic string; control characters escaped, as TOML requires."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def value(item: object) -> str:
    """The TOML literal of a config value: str, bool, int, float or a list of those."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if math.isnan(item):
            return "nan"
        if math.isinf(item):
            return "inf" if item > 0 else "-inf"
        return repr(item)  # shortest round-trip form, e.g. 0.02 or 1e-05: valid TOML
    if isinstance(item, str):
        return string(item)
    if isinstance(item, list):
        return "[" + ", ".join(value(element) for element in item) + "]"
    raise TypeError(f"config.toml holds no {type(item).__name__} values")


def render(document: Document) -> str:
    """A whole file, without comments: the fallback when the old text cannot be edited."""
    sections = []
    for section, keys in document.items():
        lines = [f"[{section}]", *(f"{key} = {value(item)}" for key, item in keys.items())]
        sections.append("\n".join(lines) + "\n")
    return "# Chapterhouse node configuration; config.example.toml documents every key.\n\n" \
        + "\n".join(sections)


def set_values(text: str, values: Mapping[tuple[str, str], object]) -> str:
    """`text` with each (section, key) set to its value, comments and order kept.

    A key's line is replaced in place (a comment at the end of that line goes with the old
    value); a key the file lacks is added at the end of its section, a missing section at
    the end of the file. If the result does not read back as exactly the intended values
    (the file uses multi-line values, dotted keys or other TOML this editor does not
    follow), the whole file is rendered afresh instead, without comments.
    """
    intended: Document = {s: dict(keys) for s, keys in tomllib.loads(text).items()}
    for (section, key), item in values.items():
        intended.setdefault(section, {})[key] = item
    lines = text.splitlines()
    pending = dict(values)
    section_end: dict[str, int] = {}  # index after the last key line of each section
    section = ""
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            section = header.group(1)
            section_end.setdefault(section, index + 1)
            continue
        key_line = _KEY.match(line)
        if key_line and (section, key_line.group(2)) in pending:
            item = pending.pop((section, key_line.group(2)))
            lines[index] = f"{key_line.group(1)}{key_line.group(2)} = {value(item)}"
        if key_line:
            section_end[section] = index + 1
    # Insert from the bottom up, so that the indexes above stay right.
    additions: dict[int, list[str]] = {}
    for (section, key), item in pending.items():
        if section in section_end:
            additions.setdefault(section_end[section], []).append(f"{key} = {value(item)}")
    for index in sorted(additions, reverse=True):
        lines[index:index] = additions[index]
    for section in dict.fromkeys(s for s, _ in pending if s not in section_end):
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {value(v)}" for (s, k), v in pending.items() if s == section]
    edited = "\n".join(lines) + "\n"
    with contextlib.suppress(tomllib.TOMLDecodeError):
        if tomllib.loads(edited) == intended:
            return edited
    # The line edits could not say it (a value spanning lines, say): the whole file is
    # written anew, without its comments, rather than wrongly.
    return render(intended)
