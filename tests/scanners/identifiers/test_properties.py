"""Properties over generated GTINs, serials and batches: one identity in every written form."""

from __future__ import annotations

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given, settings
from hypothesis import strategies as st

from scanners.identifiers import (
    DEFAULT_GS_SUBSTITUTES,
    ScanError,
    parse_scan,
    to_bracketed,
    to_digital_link,
    to_element_string,
)
from scanners.identifiers.ai_table import CSET82

PROPERTY = settings(max_examples=150, deadline=None)
GS = "\x1d"
ESCAPED_PAREN = "\\("
_SPELLED_SEPARATORS = ("<GS>", "<FNC1>")
"""Substitutes spelled in CSET 82: a value containing one would read as two (documented)."""


@st.composite
def gtins(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=13, max_size=13))
    return body + str(gs1_standard_check_digit(body))


values = st.text(CSET82, min_size=1, max_size=20).filter(
    lambda v: not any(s.lower() in v.lower() for s in _SPELLED_SEPARATORS)
)
dates = st.dates().map(lambda d: d.strftime("%y%m%d"))


@st.composite
def item_data(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(01) GTIN, (21) serial, and maybe (10) batch and (17) expiry, in a drawn order."""
    pairs = [("01", draw(gtins())), ("21", draw(values))]
    if draw(st.booleans()):
        pairs.append(("10", draw(values)))
    if draw(st.booleans()):
        pairs.append(("17", draw(dates)))
    return draw(st.permutations(pairs))


def _bracketed(pairs: list[tuple[str, str]]) -> str:
    """Written by hand, not by the code under test: ``(`` inside a value is escaped."""
    return "".join(f"({ai})" + value.replace("(", ESCAPED_PAREN) for ai, value in pairs)


@PROPERTY
@given(item_data())
def test_element_string_bracketed_and_digital_link_round_trip(pairs: list[tuple[str, str]]) -> None:
    first = parse_scan(_bracketed(pairs))
    expected = dict(pairs)
    assert first.ais == expected
    raw = parse_scan("]d2" + to_element_string(first.elements))
    bracketed = parse_scan(to_bracketed(first.elements))
    link = parse_scan(to_digital_link(first.elements))
    for result in (raw, bracketed, link):
        assert result.ais == expected
        assert result.gs1_key == f"(01){expected['01']}(21){expected['21']}"
        assert result.digital_link == first.digital_link
    assert raw.elements == bracketed.elements == first.elements


@PROPERTY
@given(gtins(), st.integers(0, 13), st.integers(1, 9))
def test_any_single_digit_change_of_a_gtin_is_caught(gtin: str, position: int, shift: int) -> None:
    changed = gtin[:position] + str((int(gtin[position]) + shift) % 10) + gtin[position + 1 :]
    for read in (f"(01){changed}", f"]C101{changed}", f"https://id.gs1.org/01/{changed}"):
        with pytest.raises(ScanError) as caught:
            parse_scan(read)
        assert caught.value.code == "bad_check_digit"


@PROPERTY
@given(item_data(), st.data())
def test_wedge_substitutes_are_equivalent_to_gs(
    pairs: list[tuple[str, str]], data: st.DataObject
) -> None:
    with_gs = "".join(f"{ai}{value}{GS}" for ai, value in pairs)
    reference = parse_scan(with_gs)
    substituted = "".join(
        f"{ai}{value}{data.draw(st.sampled_from(DEFAULT_GS_SUBSTITUTES))}" for ai, value in pairs
    )
    assert parse_scan(substituted).elements == reference.elements
    assert parse_scan("]Q3" + substituted).elements == reference.elements
