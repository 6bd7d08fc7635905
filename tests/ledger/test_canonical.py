"""RFC 8785 canonical bytes, domain prefixes, hash and base64 helpers, UTC times and NFC."""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import canonical
from ledger.canonical import (
    EVENT,
    EVENT_BODY,
    b64decode,
    b64encode,
    canonical_bytes,
    domain_hash,
    format_hash,
    parse_hash,
    require_nfc,
    signing_input,
)
from ledger.errors import CanonicalizationError, InvalidInputError
from ledger.timefmt import format_utc, parse_utc

PROPERTY = settings(max_examples=200, deadline=None)
SAFE = 2**53 - 1

json_scalars = st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _reorder(value: Any, rnd: Any) -> Any:
    """The same JSON value with every object's keys in a random insertion order."""
    if isinstance(value, dict):
        keys = list(value)
        rnd.shuffle(keys)
        return {key: _reorder(value[key], rnd) for key in keys}
    if isinstance(value, list):
        return [_reorder(item, rnd) for item in value]
    return value


# --- canonical_bytes ------------------------------------------------------------------


@PROPERTY
@given(json_values)
def test_canonical_bytes_is_deterministic_and_parses_back(value: Any) -> None:
    first = canonical_bytes(value)
    assert canonical_bytes(value) == first
    assert json.loads(first) == value
    assert first == canonical_bytes(json.loads(first))


@PROPERTY
@given(json_values, st.randoms(use_true_random=False))
def test_canonical_bytes_ignores_key_order(value: Any, rnd: Any) -> None:
    assert canonical_bytes(_reorder(value, rnd)) == canonical_bytes(value)


ascii_keys = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8)
ascii_json = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(ascii_keys, children, max_size=5)
    ),
    max_leaves=30,
)


@PROPERTY
@given(ascii_json)
def test_canonical_bytes_matches_sorted_compact_json_for_ascii_keys(value: Any) -> None:
    # With ASCII keys, code-point order equals UTF-16 order and json.dumps agrees with JCS.
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(value) == expected.encode("utf-8")


def test_canonical_bytes_known_answer() -> None:
    value = {"b": [1, True, None], "a": "é\n", "\u20ac": {"z": 0, "y": -1}, "\U0001f600": ""}
    # Keys sort by UTF-16 code units: a, b, U+20AC, then U+1F600 (surrogate 0xD83D).
    assert canonical_bytes(value) == (
        '{"a":"é\\n","b":[1,true,null],"€":{"y":-1,"z":0},"\U0001f600":""}'.encode()
    )


def test_utf16_order_differs_from_code_point_order() -> None:
    # U+FF61 is above the surrogates used by U+10000 in UTF-16, so it sorts last in JCS.
    value = {"\uff61": 1, "\U00010000": 2}
    assert canonical_bytes(value) == '{"\U00010000":2,"\uff61":1}'.encode()


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_raise(number: float) -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_bytes({"x": [number]})
    assert info.value.code == "not_canonicalizable"


@pytest.mark.parametrize("number", [1.5, 0.1, 1.0, -0.0, 1e300])
def test_finite_floats_raise(number: float) -> None:
    # 1.0 would otherwise encode as b"1", the same bytes as the integer 1.
    with pytest.raises(CanonicalizationError) as info:
        canonical_bytes({"quantity": number})
    assert info.value.code == "not_canonicalizable"


@st.composite
def with_a_float(draw: st.DrawFn) -> Any:
    """A JSON value with one finite float planted at a random depth."""
    value: Any = draw(st.floats(allow_nan=False, allow_infinity=False))
    for wrap in draw(st.lists(st.sampled_from(["list", "dict", "tuple"]), max_size=4)):
        sibling = draw(json_scalars)
        if wrap == "list":
            value = draw(st.permutations([sibling, value]))
        elif wrap == "tuple":
            value = (value, sibling)
        else:
            value = {"k": value, "j": sibling}
    return value


@PROPERTY
@given(with_a_float())
def test_floats_anywhere_raise(value: Any) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(value)


@PROPERTY
@given(
    st.integers(min_value=2**53 + 1, max_value=2**200)
    | st.integers(min_value=-(2**200), max_value=-(2**53) - 1),
    st.sampled_from(["scalar", "list", "object"]),
)
def test_integers_beyond_two_to_the_53_raise(number: int, where: str) -> None:
    value: Any = {"scalar": number, "list": [0, number], "object": {"k": {"n": number}}}[where]
    with pytest.raises(CanonicalizationError):
        canonical_bytes(value)


@pytest.mark.parametrize("number", [SAFE, -SAFE, 0, -1])
def test_safe_integers_encode_exactly(number: int) -> None:
    assert canonical_bytes([number]) == f"[{number}]".encode()


@pytest.mark.parametrize("value", [b"bytes", {1: "x"}, {"k": object()}, {"s": {1, 2}}])
def test_non_json_values_raise(value: Any) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(value)


def test_canonicalization_error_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        canonical_bytes([2**60])


# --- domain prefixes ------------------------------------------------------------------

PREFIXES: dict[str, bytes] = {
    name: value
    for name, value in vars(canonical).items()
    if name.isupper() and isinstance(value, bytes)
}


def test_all_expected_prefixes_are_found() -> None:
    assert {
        "EVENT_BODY",
        "EVENT",
        "RECEIPT",
        "ITEM_HEAD",
        "CERTIFICATE",
        "RECORD",
        "COMMITMENT",
    } <= set(PREFIXES)


def test_domain_prefixes_are_distinct() -> None:
    assert len(set(PREFIXES.values())) == len(PREFIXES)


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_no_prefix_is_a_prefix_of_another(name: str) -> None:
    mine = PREFIXES[name]
    for other_name, other in PREFIXES.items():
        if other_name != name:
            assert not other.startswith(mine), (name, other_name)


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_prefix_shape(name: str) -> None:
    prefix = PREFIXES[name]
    assert prefix.startswith(b"chemtrace/v1/")
    assert prefix.endswith(b"\n")
    assert prefix.count(b"\n") == 1


@PROPERTY
@given(json_values)
def test_domains_separate_hashes_of_one_value(value: Any) -> None:
    digests = {domain_hash(prefix, value) for prefix in PREFIXES.values()}
    assert len(digests) == len(PREFIXES)


def test_signing_input_and_domain_hash() -> None:
    value = {"b": 1, "a": "x"}
    assert signing_input(EVENT, value) == b'chemtrace/v1/event\n{"a":"x","b":1}'
    assert (
        domain_hash(EVENT_BODY, value)
        == hashlib.sha256(b'chemtrace/v1/event-body\n{"a":"x","b":1}').digest()
    )


# --- hash references ------------------------------------------------------------------


@PROPERTY
@given(st.binary(min_size=32, max_size=32))
def test_hash_round_trip(digest: bytes) -> None:
    text = format_hash(digest)
    assert text == "sha256:" + digest.hex()
    assert parse_hash(text) == digest


GOOD = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "text",
    [
        GOOD.upper(),
        "sha256:" + ("0123456789ABCDEF" * 4),
        "sha256:" + "0123456789abcdeF" + "0123456789abcdef" * 3,
        "SHA256:" + "0123456789abcdef" * 4,
        "0123456789abcdef" * 4,
        "sha-256:" + "0123456789abcdef" * 4,
        "sha512:" + "0123456789abcdef" * 4,
        " " + GOOD,
        GOOD[:-1],
        GOOD[:-2],
        GOOD + "0",
        GOOD + "00",
        "sha256:",
        "sha256:" + "g" * 64,
        "sha256:" + "0123456789abcdef" * 3 + "0123456789abcde-",
        "",
    ],
)
def test_parse_hash_rejects(text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_hash(text)
    assert info.value.code == "invalid_input"


@pytest.mark.parametrize(
    "text",
    [
        "sha256:" + "ab" * 31 + "  ",
        "sha256:" + "ab " * 16 + "ab" * 8,
        "sha256:" + "ab" * 31 + "\t\n",
    ],
)
def test_parse_hash_rejects_whitespace(text: str) -> None:
    # bytes.fromhex skips whitespace: these once parsed to 31- or 24-byte "digests".
    with pytest.raises(InvalidInputError):
        parse_hash(text)


@PROPERTY
@given(st.text(max_size=80))
def test_parse_hash_returns_32_bytes_or_raises(text: str) -> None:
    try:
        digest = parse_hash(text)
    except InvalidInputError:
        return
    assert len(digest) == 32
    assert format_hash(digest) == text


# --- base64 ---------------------------------------------------------------------------


@PROPERTY
@given(st.binary(max_size=100))
def test_base64_round_trip(data: bytes) -> None:
    text = b64encode(data)
    assert text == base64.b64encode(data).decode()
    assert b64decode(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "QQ",  # missing padding
        "QQ=",  # short padding
        "QR==",  # non-zero padding bits (canonical is QQ==)
        "QUI=" + "=",
        "QUJ=",  # non-zero padding bits (canonical is QUI=)
        "QUJD\n",
        "QU JD",
        " QUJD",
        "-_-_",  # URL-safe alphabet
        "QUJD====",
        "Q===",
        "ÄBCD",
        "QUJD\x00",
    ],
)
def test_b64decode_rejects_non_canonical(text: str) -> None:
    with pytest.raises(InvalidInputError):
        b64decode(text)


@PROPERTY
@given(
    st.text(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n"),
        max_size=16,
    )
)
def test_b64decode_accepts_only_canonical_text(text: str) -> None:
    try:
        data = b64decode(text)
    except InvalidInputError:
        return
    assert b64encode(data) == text


# --- UTC times ------------------------------------------------------------------------

offsets = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
)
aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


@PROPERTY
@given(aware)
def test_format_then_parse_is_the_same_instant(moment: datetime) -> None:
    text = format_utc(moment)
    assert text.endswith("Z")
    assert len(text) == len("2026-01-31T08:00:00.000000Z")
    parsed = parse_utc(text)
    assert parsed == moment
    assert parsed.tzinfo is UTC
    assert format_utc(parsed) == text


@PROPERTY
@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_parse_accepts_every_fraction_length(moment: datetime) -> None:
    whole = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}"
    for digits in range(1, 7):
        text = f"{whole}.{fraction[:digits]}Z"
        expected = moment.replace(microsecond=int(fraction[:digits].ljust(6, "0")))
        assert parse_utc(text) == expected
    assert parse_utc(f"{whole}Z") == moment.replace(microsecond=0)


def test_format_utc_converts_offsets() -> None:
    moment = datetime(2026, 1, 31, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    assert format_utc(moment) == "2026-01-31T08:00:00.000000Z"


def test_format_utc_rejects_naive() -> None:
    with pytest.raises(InvalidInputError):
        format_utc(datetime(2026, 1, 31, 8, 0))


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-31T16:00:00+08:00",
        "2026-01-31T08:00:00",
        "2026-01-31T08:00:00.0000000Z",
        "2026-02-29T00:00:00Z",
        "2026-01-31T08:00:60Z",
        "2026-01-31T08:00:00Z ",
    ],
)
def test_parse_utc_rejects(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_utc(text)


@pytest.mark.parametrize("year", [1, 99, 999])
def test_format_utc_round_trips_early_years(year: int) -> None:
    # strftime("%Y") does not zero-pad below 1000 on glibc.
    moment = datetime(year, 6, 1, 12, 0, tzinfo=UTC)
    assert format_utc(moment) == f"{year:04d}-06-01T12:00:00.000000Z"
    assert parse_utc(format_utc(moment)) == moment


# --- NFC ------------------------------------------------------------------------------

DECOMPOSED = "e\u0301"


def test_require_nfc_accepts_nfc() -> None:
    require_nfc({"caf\u00e9": ["\u00e9", 1, None, True, {"k": "\u4e2d\u6587"}]})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DECOMPOSED, "$"),
        ([1, DECOMPOSED], "$[1]"),
        ({"a": DECOMPOSED}, "$.a"),
        ({"a": [{"b": "x"}, {"b": DECOMPOSED}]}, "$.a[1].b"),
        ({"a": {"b": {"c": [0, 1, [DECOMPOSED]]}}}, "$.a.b.c[2][0]"),
        ({"a": {DECOMPOSED: 1}}, "$.a"),
        ({DECOMPOSED: 1}, "$"),
    ],
)
def test_require_nfc_names_the_path(value: Any, expected: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        require_nfc(value)
    assert info.value.context["field"] == expected


def test_require_nfc_uses_the_given_root() -> None:
    with pytest.raises(InvalidInputError) as info:
        require_nfc({"x": [DECOMPOSED]}, "body")
    assert info.value.context["field"] == "body.x[0]"


@st.composite
def planted(draw: st.DrawFn) -> tuple[Any, str]:
    """A JSON value with one non-NFC string at a random path, and that path."""
    steps = draw(
        st.lists(
            st.one_of(
                st.integers(0, 3).map(lambda i: ("list", i)),
                ascii_keys.filter(bool).map(lambda k: ("dict", k)),
            ),
            max_size=5,
        )
    )
    value: Any = DECOMPOSED
    path = "$"
    for kind, key in steps:
        path += f"[{key}]" if kind == "list" else f".{key}"
    for kind, key in reversed(steps):
        if kind == "list":
            value = [*(["ok"] * key), value, "ok"]
        else:
            value = {key: value, **({"zz~": "ok"} if key != "zz~" else {})}
    return value, path


@PROPERTY
@given(planted())
def test_require_nfc_finds_a_planted_string(case: tuple[Any, str]) -> None:
    value, path = case
    with pytest.raises(InvalidInputError) as info:
        require_nfc(value)
    assert info.value.context["field"] == path


@PROPERTY
@given(st.text(max_size=20))
def test_require_nfc_agrees_with_unicodedata(text: str) -> None:
    normal = unicodedata.is_normalized("NFC", text)
    try:
        require_nfc([text])
    except InvalidInputError:
        assert not normal
    else:
        assert normal
