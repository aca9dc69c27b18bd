"""JSON from elsewhere (inbox bodies, fetched documents), read strictly, in one place.

Python's json module takes more than JSON and fails in ways no caller expects: an integer
of more than 4,300 digits raises ValueError from int(), a few thousand nested brackets a
RecursionError, and it accepts NaN, Infinity and lone surrogates ("\\ud800") that later
break UTF-8 encoding, SQLite, nh3 and every peer we pass the document on to. `loads`
refuses all of these with `BadJson`, whose str() is a one-line reason for a 4xx, so what it
returns is safe to store, re-serialise, sanitise and sign.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from itertools import accumulate
from typing import Any, NoReturn

# Far deeper than any ActivityStreams document (an activity, its object, a tag, a proof:
# under 10), far shallower than the interpreter's recursion limit that the C parser and
# every recursive walker after it (JCS, deepcopy, json.dumps) run into.
MAX_DEPTH = 64
# 2**64 has 20 digits: 64-bit ids and counters fit, Python's 4,300-digit limit is never near.
MAX_INT_DIGITS = 20

# NUL ends a C string and PostgreSQL refuses it in text; a lone surrogate cannot be encoded
# as UTF-8 at all. Both can only come from \u escapes, since raw bytes are decoded strictly.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Per byte: +1 for an opening bracket, -1 for a closing one; nothing else is kept.
_BRACKET_STEP = [0] * 256
_BRACKET_STEP[ord("[")] = _BRACKET_STEP[ord("{")] = 1
_BRACKET_STEP[ord("]")] = _BRACKET_STEP[ord("}")] = -1
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class BadJson(ValueError):
    """Not JSON we take; str() is a one-line reason such as "nested deeper than 64 levels"."""


def loads(data: bytes) -> Any:
    """The JSON value in `data` (UTF-8, a leading BOM ignored as RFC 8259 allows), or BadJson.

    Refused: other encodings, syntax errors, nesting deeper than MAX_DEPTH, integers of
    more than MAX_INT_DIGITS digits, NaN, Infinity and numbers beyond a double, a key twice
    in one object (two parsers could each read a different one of them), NUL and lone
    surrogates in strings or keys.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    # Measured before parsing so that the parser never goes deep, whatever the recursion
    # limit: the C parser recurses once per level.
    if _too_deep(data):
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = _DECODER.decode(text)
    except BadJson:
        raise
    except json.JSONDecodeError as exc:
        raise BadJson(f"not JSON: {exc.msg} at character {exc.pos}") from None
    except (ValueError, RecursionError) as exc:  # belt and braces: _too_deep prevents both
        raise BadJson(f"not JSON: {type(exc).__name__}") from None
    if "\\u" in text:
        _check_strings(value)
    return value


def loads_object(data: bytes) -> dict[str, Any]:
    """Like `loads`, for documents that must be a JSON object."""
    value = loads(data)
    if not isinstance(value, dict):
        raise BadJson(f"not a JSON object but {_kind(value)}")
    return value


def _too_deep(data: bytes) -> bool:
    """Whether brackets outside strings nest deeper than MAX_DEPTH, found without recursion
    and without a loop in Python.

    Escaped backslashes and quotes are dropped first, so that every remaining quote opens
    or closes a string and the pieces between quotes alternate outside/inside. Text that is
    not JSON may be misread here, but the parser refuses it; any prefix the parser accepts
    (and would recurse into) is read here exactly as the parser reads it, unclosed
    brackets included.
    """
    if len(data) <= MAX_DEPTH:
        return False
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[0::2])
    brackets = outside.translate(None, _NOT_BRACKETS)
    if len(brackets) <= MAX_DEPTH:
        return False
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets))) > MAX_DEPTH


def _check_strings(value: Any) -> None:
    """BadJson for NUL or a lone surrogate in any string or key; depth is already bounded,
    but an explicit stack keeps this independent of it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise BadJson(_unstorable(item))
        elif isinstance(item, dict):
            for key in item:
                if _UNSTORABLE.search(key):
                    raise BadJson(_unstorable(key))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _unstorable(text: str) -> str:
    found = _UNSTORABLE.search(text)
    char = found.group() if found else "?"
    what = "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
    return f"a string holds {what}"


def _int(literal: str) -> int:
    if len(literal) - literal.startswith("-") > MAX_INT_DIGITS:
        raise BadJson(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(literal)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise BadJson(f"a number beyond a double ({literal[:20]})")
    return value


def _constant(name: str) -> NoReturn:
    raise BadJson(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise BadJson(f"an object repeats the key {_quote(key)}")
            seen.add(key)
    return result


def _quote(text: str) -> str:
    shown = repr(text[:40] + ("…" if len(text) > 40 else ""))
    return shown.encode("ascii", "backslashreplace").decode("ascii")


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


_DECODER = json.JSONDecoder(
    parse_int=_int, parse_float=_float, parse_constant=_constant, object_pairs_hook=_object
)
