"""Our own identifiers: typed trace codes and the QR label URL, as scans."""

from __future__ import annotations

import pytest

from ledger.codes import verify_code
from ledger.signing import ED25519
from scanners.identifiers import parse_scan
from tests.scanners.identifiers._support import CODE, FACTS, REGISTRY, SIGNED, refused
from tests.scanners.identifiers._support import LABEL_URL as URL


@pytest.mark.parametrize(
    "typed", [CODE, "ct7k3mq9xa2b4fhcn", " CT 7K3MQ 9XA2B 4FHCN\n", "]C0" + CODE]
)
def test_a_typed_or_barcoded_code(typed: str) -> None:
    result = parse_scan(typed)
    assert result.kind == "trace_code"
    assert result.trace_code == CODE
    assert result.label is None and result.elements == () and result.gs1_key is None


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("CT-7K3MQ-9XA2B-4FHCM", "check character does not match"),
        ("CT-7K3MQ-9XA2B-4FHC", "15 characters after 'CT', this one has 14"),
        ("CT-7K3MQ-9XA2B-4FHC!", "'!' is not a trace-code character"),
    ],
)
def test_a_mistyped_code_says_what_is_wrong(typed: str, fragment: str) -> None:
    error = refused(typed)
    assert error.code == "invalid_code"
    assert fragment in error.message


@pytest.mark.parametrize("read", [URL, "]Q1" + URL, URL.lower(), URL + "\r\n"])
def test_the_label_url_gives_the_code_and_its_unverified_signed_facts(read: str) -> None:
    result = parse_scan(read)
    assert result.kind == "label_url"
    assert result.trace_code == CODE
    assert result.label is not None
    assert result.label.facts == FACTS
    verify_code(result.label, ED25519, REGISTRY.public_key)  # verifiable later, offline
    assert result.to_json()["label"] == SIGNED.for_label().to_json()


def test_a_plain_link_to_a_code_carries_the_code_only() -> None:
    result = parse_scan("https://ct.example.cn/c/CT7K3MQ9XA2B4FHCN")
    assert result.kind == "trace_code"
    assert result.trace_code == CODE and result.label is None


@pytest.mark.parametrize(
    ("read", "code", "fragment"),
    [
        (URL[:-20], "truncated_read", "83 of its 103 characters"),
        (URL.rsplit("/", 3)[0], "truncated_read", "2 of the 5 fields"),
        (URL + "/EXTRA", "invalid_label", "not a chemtrace label URL"),
        (URL.replace("/1C260131/", "/1Q260131/"), "invalid_label", "packaging letter"),
        (URL.replace("CT7K3MQ9XA2B4FHCN", "CT7K3MQ9XA2B4FHCM"), "invalid_code", "check"),
    ],
)
def test_a_broken_label_url(read: str, code: str, fragment: str) -> None:
    error = refused(read)
    assert error.code == code
    assert fragment in error.message
