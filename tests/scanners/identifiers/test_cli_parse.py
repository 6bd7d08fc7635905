"""``chemtrace scan parse``, run as a real subprocess: one JSON document, exit 0 or 1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api._cli import run_cli
from tests.scanners.identifiers._support import LABEL_URL as LABEL

GS = "\x1d"
GTIN = "09506000134352"
KEYS = {"kind", "raw", "symbology", "trace_code", "label", "ais", "elements", "hri", "gs1_key"}
KEYS |= {"digital_link", "epc"}


def _parse(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("scan", "parse", *args, cwd=cwd, stdin=stdin)


def _document(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    document: dict[str, Any] = json.loads(done.stdout)  # exactly one JSON document
    assert set(document) == KEYS
    return document


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (
            f"]d201{GTIN}17261231{GS}10LOT7{GS}21ABC123",
            {
                "kind": "gs1_element_string",
                "symbology": "]d2",
                "ais": {"01": GTIN, "17": "261231", "10": "LOT7", "21": "ABC123"},
                "gs1_key": f"(01){GTIN}(21)ABC123",
                "digital_link": f"https://id.gs1.org/01/{GTIN}/10/LOT7/21/ABC123?17=261231",
            },
        ),
        (
            "(8003)03870585000552987",
            {"kind": "gs1_element_string", "gs1_key": "(8003)03870585000552987"},
        ),
        (
            f"https://brand.example.cn/p/01/{GTIN}/21/ABC123?17=261200",
            {
                "kind": "gs1_digital_link",
                "ais": {"01": GTIN, "21": "ABC123", "17": "261200"},
                "digital_link": f"https://id.gs1.org/01/{GTIN}/21/ABC123?17=261200",
            },
        ),
        (
            "3074257BF7194E4000001A85",
            {
                "kind": "epc",
                "gs1_key": "(01)80614141123458(21)6789",
                "epc": {
                    "scheme": "sgtin-96",
                    "uri": "urn:epc:id:sgtin:0614141.812345.6789",
                    "tag_uri": "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
                    "hex": "3074257BF7194E4000001A85",
                    "filter": 3,
                },
            },
        ),
        ("]Q1" + LABEL, {"kind": "label_url", "trace_code": "CT-7K3MQ-9XA2B-4FHCN"}),
    ],
    ids=["gs1-datamatrix", "bracketed-grai", "digital-link", "epc-hex", "label-url"],
)
def test_each_format_prints_one_json_document(
    read: str, expected: dict[str, Any], tmp_path: Path
) -> None:
    document = _document(_parse(read, cwd=tmp_path))
    assert document["raw"] == read
    for key, value in expected.items():
        assert document[key] == value, key
    assert all(set(element) >= {"ai", "title", "value"} for element in document["elements"])
    assert [e["ai"] for e in document["elements"]] == list(document["ais"])


def test_stdin_with_wedge_framing_and_options(tmp_path: Path) -> None:
    read = f"SCAN:01{GTIN}10LOT7~21ABC123\r\n"
    done = _parse("--strip-prefix", "SCAN:", "--gs-substitute", "~", "-", cwd=tmp_path, stdin=read)
    document = _document(done)
    assert document["ais"] == {"01": GTIN, "10": "LOT7", "21": "ABC123"}
    assert document["elements"][1] == {"ai": "10", "title": "BATCH/LOT", "value": "LOT7"}


@pytest.mark.parametrize(
    ("read", "stdin", "reason"),
    [
        (f"01{GTIN[:-1]}3", None, "invalid scan (bad_check_digit): AI (01) GTIN"),
        ("-", f"01{GTIN[:10]}\n", "invalid scan (truncated_read): AI (01) GTIN is 14"),
    ],
    ids=["bad-check-digit", "truncated-from-stdin"],
)
def test_an_invalid_read_exits_1_with_the_reason_on_stderr_only(
    read: str, stdin: str | None, reason: str, tmp_path: Path
) -> None:
    done = _parse(read, cwd=tmp_path, stdin=stdin)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(reason), done.stderr
