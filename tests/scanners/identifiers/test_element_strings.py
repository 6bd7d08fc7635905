"""GS1 element strings, raw and bracketed: splitting, every value check, precise errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scanners.identifiers import (
    ScanError,
    gs1_key,
    parse_bracketed,
    parse_element_string,
    parse_scan,
    to_bracketed,
    to_element_string,
)

GS = "\x1d"
GTIN = "09506000134352"


def _code(call: Callable[[str], object], text: str) -> str:
    with pytest.raises(ScanError) as caught:
        call(text)
    return caught.value.code


def test_fixed_length_values_need_no_separator_and_may_have_one() -> None:
    plain = parse_element_string(f"01{GTIN}17261231{GS}10B1")
    with_extra = parse_element_string(f"01{GTIN}{GS}17261231{GS}10B1{GS}")
    assert plain == with_extra
    assert [e.ai for e in plain] == ["01", "17", "10"]


def test_other_valid_ais_pass_through_with_their_titles() -> None:
    elements = parse_element_string(f"01{GTIN}3103000195{GS}400PO-42{GS}70032612311200")
    assert [(e.ai, e.title) for e in elements] == [
        ("01", "GTIN"),
        ("3103", "NET WEIGHT (kg)"),
        ("400", "ORDER NUMBER"),
        ("7003", "EXPIRY TIME"),
    ]


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [
        (f"01{GTIN[:-1]}3", "bad_check_digit", "check digit 3, but its digits give 2"),
        ("00106141412345678909", "bad_check_digit", "SSCC"),
        ("800303870585000553", "bad_check_digit", "GRAI"),
        ("253123123123123399", "bad_check_digit", "GDTI"),
        ("8018795260646688514635", "bad_check_digit", "GSRN"),
        ("4149520123456789", "bad_check_digit", "LOC No."),
        (f"01{GTIN}17261301", "bad_date", "261301"),
        (f"01{GTIN}17250229", "bad_date", "250229"),  # 2025 is no leap year
        (f"01{GTIN}7006261200", "bad_date", "day 00"),  # first freeze: no day 00
        (f"01{GTIN}10", "empty_value", "BATCH/LOT has no value"),
        (f"01{GTIN}10{'A' * 21}", "value_too_long", "is a GS separator missing"),
        (f"01{GTIN}10AB CD", "bad_value", "cannot hold ' '"),
        ("01095060001343A2", "bad_value", "digits only; character 13"),
        ("01\u0660" + GTIN[1:], "bad_value", "digits only; character 1"),  # Arabic-Indic 0
        ("8903", "unknown_ai", "'8903' (character 1)"),
        (f"01{GTIN}8903X", "unknown_ai", "(character 17)"),
        (f"01{GTIN}10A{GS}10B", "conflicting_ai", "'A' and 'B'"),
        (f"0109506{GS}0001343", "bad_value", "a separator follows after 5"),
        ("8003" + "0" * 5, "truncated_read", "at least 14 characters"),
    ],
)
def test_raw_errors_are_precise(data: str, code: str, fragment: str) -> None:
    with pytest.raises(ScanError) as caught:
        parse_element_string(data)
    assert caught.value.code == code
    assert fragment in caught.value.message


def test_a_repeated_ai_with_the_same_value_is_kept_once_in_ais() -> None:
    result = parse_scan(f"01{GTIN}10A{GS}10A")
    assert len(result.elements) == 3
    assert result.ais == {"01": GTIN, "10": "A"}


@pytest.mark.parametrize(
    "text",
    [
        f"(01){GTIN}(21)ABC123",
        f" (01) {GTIN} (21) ABC123 ",
        f"(01){GTIN}\t(21)ABC123",
    ],
)
def test_bracketed_forms(text: str) -> None:
    assert parse_bracketed(text) == parse_element_string(f"01{GTIN}21ABC123")


def test_bracketed_values_may_hold_parentheses() -> None:
    elements = parse_bracketed(f"(01){GTIN}(10)A(B)C(21)X\\(21)Y")
    assert [e.value for e in elements] == [GTIN, "A(B)C", "X(21)Y"]
    assert parse_bracketed(to_bracketed(elements)) == elements


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("01)0950", "bad_value"),
        (f"x(01){GTIN}", "bad_value"),
        (f"(01){GTIN}(21)AB C", "bad_value"),
        (f"(01){GTIN}(89)X", "unknown_ai"),
        (f"(01){GTIN}(21)", "empty_value"),
    ],
)
def test_bracketed_errors(text: str, code: str) -> None:
    assert _code(parse_bracketed, text) == code


def test_rendering_round_trips() -> None:
    elements = parse_element_string(f"01{GTIN}10B1{GS}17261231{GS}21S")
    assert to_element_string(elements) == f"01{GTIN}10B1{GS}1726123121S"
    assert to_element_string(elements, "^") == f"01{GTIN}10B1^1726123121S"
    assert parse_element_string(to_element_string(elements)) == elements
    assert to_bracketed(elements) == f"(01){GTIN}(10)B1(17)261231(21)S"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (f"01{GTIN}21S1", f"(01){GTIN}(21)S1"),
        (f"21S1{GS}01{GTIN}", f"(01){GTIN}(21)S1"),
        ("800303870585000552987", "(8003)03870585000552987"),
        ("00106141412345678908", "(00)106141412345678908"),
        (f"00106141412345678908{GS}01{GTIN}21S", f"(01){GTIN}(21)S"),
        (f"01{GTIN}", None),
        ("800303870585000552", None),
    ],
)
def test_gs1_key(data: str, key: str | None) -> None:
    assert gs1_key(parse_element_string(data)) == key


def test_hex_looking_gs1_data_is_not_taken_for_an_epc() -> None:
    result = parse_scan(f"400ABC123{GS}01{GTIN}")  # an order number, header 0x40 (ITIP)
    assert result.kind == "gs1_element_string"
    assert result.ais["400"] == "ABC123"
    digits_only = parse_scan(f"3103000195{GS}01{GTIN}")  # header 0x31 (SSCC-96)
    assert digits_only.kind == "gs1_element_string"
