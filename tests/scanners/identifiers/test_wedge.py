"""Keyboard-wedge reads: AIM identifiers, framing, prefixes and suffixes, GS substitutes, garbles."""

from __future__ import annotations

import pytest

from scanners.identifiers import DEFAULT_GS_SUBSTITUTES, ScanError, WedgeConfig, parse_scan
from tests.scanners.identifiers._support import refused

GS = "\x1d"
GTIN = "09506000134352"
BODY = f"01{GTIN}10LOT7{GS}21ABC123"
AIS = {"01": GTIN, "10": "LOT7", "21": "ABC123"}
URL = f"https://id.gs1.org/01/{GTIN}/21/ABC123"


@pytest.mark.parametrize("aim", ["]C1", "]e0", "]d2", "]Q3"])
def test_every_gs1_symbology_carries_element_strings(aim: str) -> None:
    result = parse_scan(aim + BODY)
    assert result.symbology == aim
    assert result.kind == "gs1_element_string"
    assert result.ais == AIS


@pytest.mark.parametrize("aim", ["]Q1", "]Q2", "]d1", "]d4", "]z0", ""])
def test_plain_symbologies_carry_urls(aim: str) -> None:
    result = parse_scan(aim + URL)
    assert result.kind == "gs1_digital_link"
    assert result.symbology == (aim or None)
    assert result.gs1_key == f"(01){GTIN}(21)ABC123"


@pytest.mark.parametrize("aim", ["]d1", "]Q1", "]C0"])
def test_gs1_data_in_a_plain_symbol_is_a_printing_fault(aim: str) -> None:
    error = refused(aim + BODY)
    assert error.code == "symbology_mismatch"
    assert aim in error.message


def test_a_url_in_a_gs1_symbol_is_refused() -> None:
    with pytest.raises(ScanError) as caught:
        parse_scan("]d2" + URL)
    assert caught.value.code == "symbology_mismatch"


@pytest.mark.parametrize(
    ("read", "code"),
    [
        ("]W1" + BODY, "unsupported_symbology"),
        ("]", "unsupported_symbology"),
        ("]d2", "empty_scan"),
        ("abc]d2" + BODY, "stray_text"),
        ("]d2" + BODY + "]d2" + BODY, "multiple_reads"),
        (BODY + "\r\n" + BODY, "multiple_reads"),
        (f"01{GTIN}\x0021ABC", "control_character"),
        (f"01{GTIN}\x1b21ABC", "control_character"),
        ("\r\n\t ", "empty_scan"),
        ("x" * 5000, "too_long"),
        ("hello world", "unrecognised"),
        ("]Q1hello world", "unrecognised"),
    ],
)
def test_garbled_reads_get_precise_codes(read: str, code: str) -> None:
    error = refused(read)
    assert error.code == code
    assert error.message


def test_stray_text_names_what_came_first() -> None:
    with pytest.raises(ScanError) as caught:
        parse_scan("SCAN:]d2" + BODY)
    assert "'SCAN:'" in caught.value.message
    assert caught.value.context["identifier"] == "]d2"


def test_a_control_character_is_named_with_its_position() -> None:
    with pytest.raises(ScanError) as caught:
        parse_scan(f"01{GTIN}\x0721ABC")
    assert "U+0007" in caught.value.message
    assert caught.value.context["position"] == 17


@pytest.mark.parametrize(
    "framed",
    [
        "]d2" + BODY + "\r\n",
        "]d2" + BODY + "\n",
        "]d2" + BODY + "\t",
        "\x02]d2" + BODY + "\x03",
        "  ]d2" + BODY + "\x04",
    ],
)
def test_framing_characters_are_stripped(framed: str) -> None:
    result = parse_scan(framed)
    assert result.ais == AIS
    assert result.raw == framed  # the input as given


def test_configured_prefix_and_suffix_are_stripped() -> None:
    config = WedgeConfig(prefixes=("SCAN:",), suffixes=("#END",))
    assert parse_scan("SCAN:]d2" + BODY + "#END\r\n", config).ais == AIS
    with pytest.raises(ScanError):
        parse_scan("SCAN:]d2" + BODY + "#END")  # not configured: refused, not guessed


@pytest.mark.parametrize("substitute", DEFAULT_GS_SUBSTITUTES)
def test_every_default_substitute_is_a_separator(substitute: str) -> None:
    read = f"01{GTIN}10LOT7{substitute}21ABC123"
    assert parse_scan(read).ais == AIS
    assert parse_scan("]d2" + read).ais == AIS


@pytest.mark.parametrize("spelled", ["<gs>", "{Gs}", "[fnc1]", "\\X1D", "\\U001D"])
def test_named_substitutes_are_case_insensitive(spelled: str) -> None:
    assert parse_scan(f"01{GTIN}10LOT7{spelled}21ABC123").ais == AIS


def test_a_leading_separator_is_fnc1_in_first_position() -> None:
    assert parse_scan(GS + BODY).ais == AIS
    assert parse_scan("^" + BODY.replace(GS, "^")).ais == AIS


def test_tilde_is_a_separator_only_when_configured() -> None:
    read = f"01{GTIN}10LOT7~21ABC123"
    with pytest.raises(ScanError) as caught:
        parse_scan(read)
    assert caught.value.code == "bad_value"  # '~' is not a GS1 character: never guessed
    assert parse_scan(read, WedgeConfig(gs_substitutes=("~",))).ais == AIS


@pytest.mark.parametrize("ambiguous", ["A", "%", "--", ""])
def test_a_substitute_that_could_be_data_is_refused(ambiguous: str) -> None:
    with pytest.raises(ValueError, match="CSET 82"):
        WedgeConfig(gs_substitutes=(ambiguous,))


def test_full_width_input_from_a_chinese_ime() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in f"01{GTIN}21ABC")
    assert parse_scan(full_width).ais == {"01": GTIN, "21": "ABC"}
    assert (
        parse_scan("ＣＴ－７Ｋ３ＭＱ－９ＸＡ２Ｂ－４ＦＨＣＮ").trace_code == "CT-7K3MQ-9XA2B-4FHCN"
    )


def test_iso15434_format_05_envelope() -> None:
    result = parse_scan(f"[)>\x1e05{GS}{BODY}\x1e\x04")
    assert result.ais == AIS
    with pytest.raises(ScanError) as caught:
        parse_scan(f"[)>\x1e06{GS}1PABC\x1e\x04")
    assert caught.value.code == "unsupported_format"


@pytest.mark.parametrize(
    ("read", "reason"),
    [
        (f"01{GTIN[:12]}", "GTIN is 14 characters, but the read ends after 12"),
        (f"]d201{GTIN}17{2612}", "EXPIRY is 6 characters, but the read ends after 4"),
        (f"01{GTIN}8003{'0' * 5}", "at least 14 characters, but the read ends after 5"),
        (f"ttps://id.gs1.org/01/{GTIN}", "its start is cut off"),
        (f"id.gs1.org/01/{GTIN}", "URL without its start"),
        ("HTTPS://CT.EXAMPLE.CN/C/CT7K3MQ9XA2B4FHCN/1C260131/26.3", "2 of the 5 fields"),
        ("3074257BF7194E4000", "24 hex digits; this read has 18"),
    ],
)
def test_truncated_reads_say_what_ran_short(read: str, reason: str) -> None:
    error = refused(read)
    assert error.code == "truncated_read"
    assert reason in error.message
