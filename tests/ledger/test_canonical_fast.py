"""The canonical encoder's fast path writes exactly what the ``rfc8785`` library writes, and
refuses exactly what it refuses, for any JSON value (property tests)."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import JsonValue, canonical_bytes, canonical_bytes_of_validated
from ledger.errors import CanonicalizationError

# every code point, lone surrogates and controls included, and some that JCS escapes
texts = st.text(st.characters(codec=None, categories=None)) | st.sampled_from(
    ["", '"', "\\", "\x00\x1f\x7f", "\u2028\u2029", "\ud800", "é", "😀", "\ue000", "a\u0000b"]
)
keys = texts | st.text(st.characters(max_codepoint=0x7F))
integers = st.integers() | st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 0, -1])
json_values = st.recursive(
    st.none() | st.booleans() | integers | texts,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=5).map(tuple)
        | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=30,
)


def _library(value: object) -> bytes | None:
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return None


def _ours(value: object) -> bytes | None:
    try:
        return canonical_bytes_of_validated(value)  # type: ignore[arg-type]
    except CanonicalizationError:
        return None


@settings(max_examples=3000)
@given(json_values)
def test_the_encoding_is_the_librarys(value: JsonValue) -> None:
    assert _ours(value) == _library(value)


@given(st.dictionaries(keys, st.integers(0, 3), min_size=2, max_size=8))
def test_keys_sort_by_utf16_code_units(value: dict[str, int]) -> None:
    assert _ours(value) == _library(value)


def test_the_cases_where_code_points_and_utf16_disagree() -> None:
    # U+E000 sorts after U+10000 by code point but before it by UTF-16 code unit
    value = {"\ue000": 1, "\U00010000": 2, "a": 3}
    assert _ours(value) == _library(value) == '{"a":3,"\U00010000":2,"\ue000":1}'.encode()
    assert _ours({"x": "\x07\x1f\n"}) == b'{"x":"\\u0007\\u001f\\n"}'
    assert _ours(2**53) is None and _ours(-(2**53)) is None
    assert _ours({"s": "\ud800"}) == _library({"s": "\ud800"})


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return isinstance(value, list | tuple) and any(_has_float(v) for v in value)


with_floats = st.recursive(
    st.floats() | integers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=1000)
@given(json_values | with_floats)
def test_canonical_bytes_refuses_any_float_and_else_agrees(value: JsonValue) -> None:
    try:
        ours: bytes | None = canonical_bytes(value)
    except CanonicalizationError:
        ours = None
    assert ours == (None if _has_float(value) else _library(value))
