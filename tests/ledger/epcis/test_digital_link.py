"""One Digital Link implementation, in the core: the scanners' names are the core's objects."""

from __future__ import annotations

import pytest

import scanners.identifiers as scanner_ids
from scanners.identifiers import ScanError, parse_digital_link, to_digital_link

GTIN = "(01)06901234123456(21)A1"


def test_the_scanners_use_the_core_implementation() -> None:
    from ledger.epcis import digital_link, element_strings, errors

    assert scanner_ids.parse_digital_link is digital_link.parse_digital_link
    assert scanner_ids.to_digital_link is digital_link.to_digital_link
    assert scanner_ids.parse_element_string is element_strings.parse_element_string
    assert ScanError is errors.IdentifierError


@pytest.mark.parametrize(
    ("stem", "uri"),
    [
        ("https://dlr.example.cn:443/r", "https://dlr.example.cn/r/01/06901234123456/21/A1"),
        ("http://dlr.example.cn:80", "http://dlr.example.cn/01/06901234123456/21/A1"),
        ("https://dlr.example.cn:8443/r", "https://dlr.example.cn:8443/r/01/06901234123456/21/A1"),
        ("https://dlr.example.cn:80", "https://dlr.example.cn:80/01/06901234123456/21/A1"),
        ("http://dlr.example.cn:443", "http://dlr.example.cn:443/01/06901234123456/21/A1"),
    ],
)
def test_a_stem_loses_only_its_schemes_default_port(stem: str, uri: str) -> None:
    """RFC 3986 §6.2.3; Solidsoft's Gs1DigitalLinkLib writes ``…:443/search`` stems this way."""
    assert to_digital_link(GTIN, stem=stem) == uri
    assert (
        parse_digital_link(uri).elements
        == parse_digital_link("https://id.gs1.org/01/06901234123456/21/A1").elements
    )


def test_a_refusal_is_still_a_scan_error_with_its_code() -> None:
    with pytest.raises(ScanError) as raised:
        parse_digital_link("https://id.gs1.org/01/06901234123457/21/A1")
    assert raised.value.code == "bad_check_digit"
