"""RFID EPC conformance: 74 EPC-bank hex / tag URI / pure-identity URI vectors (epcpy, epc-tds).

All 74 apply to hex decoding and all run: the schemes are ADI, CPI, GDTI,
GIAI, GID, GRAI, GSRN, GSRNP, ITIP, SGCN, SGLN, SGTIN, SSCC and USDOD, every
one of which epcpy decodes. None is skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from scanners.identifiers import ScanError, parse_bracketed, parse_scan
from scanners.identifiers.epc import decode_epc_hex, decode_epc_uri
from tests.conftest import require_shared
from tests.scanners.identifiers._vectors import EPC_VECTORS, load

pytestmark = pytest.mark.conformance

VECTORS: list[dict[str, Any]] = (load(EPC_VECTORS) or {"vectors": []})["vectors"]
NOT_GS1_KEYED = frozenset({"adi", "gid", "usdod"})
"""Schemes with no GS1 equivalent: aerospace (ADI), general (GID) and US DoD identifiers."""


def _vector_id(vector: dict[str, Any]) -> str:
    return f"{vector['scheme']}-{vector['hex'][:12]}"


def test_every_vector_is_here() -> None:
    data = json.loads(require_shared(EPC_VECTORS).read_text())
    assert len(data["vectors"]) == len(VECTORS) == 74
    schemes = Counter(vector["scheme"] for vector in VECTORS)
    assert schemes["sgtin"] == 5 and schemes["grai"] == 7 and schemes["sscc"] == 5


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_hex_decodes_to_the_pure_identity_and_tag_uri(vector: dict[str, Any]) -> None:
    read = decode_epc_hex(vector["hex"])
    assert read.identity.uri == vector["uri"]
    assert read.identity.tag_uri == vector["tag_uri"]
    assert read.identity.hex == vector["hex"].upper()


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_tag_uri_encodes_back_to_the_hex(vector: dict[str, Any]) -> None:
    read = decode_epc_uri(vector["tag_uri"])
    assert read.identity.hex == vector["hex"].upper()
    assert read.identity.uri == vector["uri"]


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_scanning_the_hex_gives_the_same_identity_and_gs1_data(vector: dict[str, Any]) -> None:
    result = parse_scan(vector["hex"].lower())
    assert result.kind == "epc"
    assert result.epc is not None and result.epc.uri == vector["uri"]
    # GS1-keyed schemes carry an element string, which checks out (check digits too).
    assert bool(result.elements) == (vector["scheme"] not in NOT_GS1_KEYED)
    if result.elements:
        assert parse_bracketed(result.to_json()["hri"]) == result.elements  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hex_text", "code", "reason"),
    [
        ("3074257BF7194E40", "truncated_read", "SGTIN-96 EPCs are 24 hex digits; this read has 16"),
        ("3074257BF7194E4000001A85FF", "invalid_epc", "(data after the EPC)"),
        ("30FF257BF7194E4000001A85", "invalid_epc", "Invalid partition"),
        ("3074257BF7194E4000001A8G", "invalid_epc", "hexadecimal digits only"),
    ],
)
def test_broken_reads_are_refused_precisely(hex_text: str, code: str, reason: str) -> None:
    with pytest.raises(ScanError) as caught:
        decode_epc_hex(hex_text)
    assert caught.value.code == code
    assert reason in caught.value.message
