"""The one JSON reader for what comes from elsewhere: what it takes, what it refuses."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from federation import strict_json
from federation.strict_json import MAX_DEPTH, BadJson, loads, loads_object


def nested(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


@pytest.mark.parametrize("data,value", [
    (b'{"a": [1, 2.5, -3e2, true, null, "x"]}', {"a": [1, 2.5, -300.0, True, None, "x"]}),
    (nested(MAX_DEPTH), json.loads(nested(MAX_DEPTH))),
    (b'{"a":' * (MAX_DEPTH - 1) + b"{}" + b"}" * (MAX_DEPTH - 1),
     json.loads(b'{"a":' * (MAX_DEPTH - 1) + b"{}" + b"}" * (MAX_DEPTH - 1))),
    # Brackets, quotes and backslashes inside strings are text, not nesting.
    (b'["' + b"[" * 1000 + b'"]', ["[" * 1000]),
    (b'["\\"' + b"[" * 1000 + b'"]', ['"' + "[" * 1000]),
    (b'["\\\\", "' + b"{" * 1000 + b'"]', ["\\", "{" * 1000]),
    # An emoji written as an escaped surrogate pair, as ensure_ascii serialisers do.
    (b'{"e": "\\ud83d\\ude00", "\\u00e9": "\\u2028"}', {"e": "\U0001F600", "é": "\u2028"}),
    (b"\xef\xbb\xbf{}", {}),  # a UTF-8 BOM is ignored (RFC 8259 8.1)
    ("{\"caf\u00e9\": 1}".encode(), {"café": 1}),
    (b"[99999999999999999999, -99999999999999999999, 1e308, 1e-999]",
     [99999999999999999999, -99999999999999999999, 1e308, 0.0]),
    (b'"\\u0001\\t"', "\x01\t"),  # control characters other than NUL are fine text
])
def test_what_it_takes(data: bytes, value: Any) -> None:
    assert loads(data) == value


@pytest.mark.parametrize("data,reason", [
    (nested(MAX_DEPTH + 1), "nested deeper than 64"),
    (nested(100_000), "nested deeper"),
    (b"[" * 100_000, "nested deeper"),  # never closed: the parser would recurse all the same
    (nested(MAX_DEPTH + 1, "{\"a\":", "}"), "nested deeper"),
    (b'["\\\\"' + b"[" * 100 + b"]" * 100 + b"]", "nested deeper"),  # the string ended
    (b"[" + b"1" * 5000 + b"]", "more than 20 digits"),
    (b"[-" + b"1" * 21 + b"]", "more than 20 digits"),
    (b"[NaN]", "NaN is not"),
    (b"[Infinity]", "Infinity is not"),
    (b"[-Infinity]", "-Infinity is not"),
    (b"[1e999]", "beyond a double"),
    (b"[-1.5E+400]", "beyond a double"),
    (b'["\\ud800"]', "lone surrogate (U+D800)"),
    (b'["\\udfff\\ud800"]', "lone surrogate"),  # the wrong way round is two lone ones
    (b'{"\\udc80": 1}', "lone surrogate"),
    (b'{"a": {"b": ["x", "\\u0000"]}}', "NUL"),
    (b'{"a\\u0000": 1}', "NUL"),
    (b'{"id": 1, "id": 2}', "repeats the key 'id'"),
    (b'[{"a": {"b": 1, "c": 2, "b": 3}}]', "repeats the key 'b'"),
    ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
    ('{"a": 1}'.encode("utf-32"), "not UTF-8"),
    (b'{"a": "caf\xe9"}', "not UTF-8"),
    (b'["\xed\xa0\x80"]', "not UTF-8"),  # a surrogate encoded as UTF-8 bytes
    (b"", "not JSON"),
    (b" \n\t", "not JSON"),
    (b'{"a": 1}}', "not JSON: Extra data"),
    (b'{"a": 1} x', "not JSON"),
    (b"{'a': 1}", "not JSON"),
    (b'["a\nb"]', "not JSON"),  # a raw control character in a string
    (b"\x00", "not JSON"),
])
def test_what_it_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(BadJson) as caught:
        loads(data)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_object_is_required_where_one_is_needed() -> None:
    assert loads_object(b'{"a": 1}') == {"a": 1}
    for data, kind in ((b"[]", "an array"), (b'"x"', "a string"), (b"1", "a number"),
                       (b"null", "null"), (b"true", "a boolean")):
        with pytest.raises(BadJson, match=f"not a JSON object but {kind}"):
            loads_object(data)


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(reference_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(reference_depth, value), default=0)
    return 0


def random_value(rng: random.Random, depth: int) -> Any:
    """A value about `depth` deep: one child per level goes on down, the others stay
    shallow, so that the size grows with the depth and not exponentially."""
    if depth <= 0 or rng.random() < 0.02:
        return rng.choice([
            1, -2.5, True, None,
            "".join(rng.choice('[]{}"\\\\ax\u00e9\U0001F600') for _ in range(rng.randrange(8))),
        ])
    children = [random_value(rng, min(depth - 1, 2)) for _ in range(rng.randrange(3))]
    children.insert(rng.randrange(len(children) + 1), random_value(rng, depth - 1))
    if rng.random() < 0.5:
        return children
    return {f"k{i}" + rng.choice('[{"\\'): child for i, child in enumerate(children)}


def test_the_depth_scan_agrees_with_the_structure() -> None:
    """Strings full of brackets, quotes and backslashes never fool the scan."""
    rng = random.Random(8785)
    deep_ones = 0
    for _ in range(2000):
        value = random_value(rng, rng.randrange(MAX_DEPTH - 5, MAX_DEPTH + 5))
        data = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        deep = reference_depth(value) > MAX_DEPTH
        deep_ones += deep
        assert strict_json._too_deep(data) == deep
        if deep:
            with pytest.raises(BadJson, match="nested deeper"):
                loads(data)
        else:
            assert loads(data) == value
    assert 100 < deep_ones < 1900  # both sides of the limit were tried
