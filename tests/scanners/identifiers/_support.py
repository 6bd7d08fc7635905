"""Shared test helpers: a signed label to scan, and a refused read's error."""

from __future__ import annotations

import pytest

from ledger.codes import CodeFacts, label_url, sign_code
from ledger.signing import Ed25519Signer
from scanners.identifiers import ScanError, WedgeConfig, parse_scan

REGISTRY = Ed25519Signer.from_seed(b"\x21" * 32)
CODE = "CT-7K3MQ-9XA2B-4FHCN"
FACTS = CodeFacts(
    code=CODE,
    org="acme_gas",
    form="26.3",
    packaging="cylinder",
    batch="B2026-01",
    issued_at="2026-01-31",
)
SIGNED = sign_code(FACTS, REGISTRY)
LABEL_URL = label_url(SIGNED, "https://ct.example.cn")


def refused(read: str, config: WedgeConfig | None = None) -> ScanError:
    """The error ``parse_scan`` raises for ``read`` (the test fails if it raises none)."""
    with pytest.raises(ScanError) as caught:
        parse_scan(read, config or WedgeConfig())
    return caught.value
