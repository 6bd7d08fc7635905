"""``chemtrace scan image``: photos in, one JSON document of decoded and parsed labels out.

One test runs the real command in a subprocess; the exit-code rules (0 all read
and parsed, 1 a symbol not parsed or a file without a label, 2 a file not
readable) are checked in-process, which is faster and says the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from scanners.cli import app
from tests.api._cli import run_cli
from tests.scanners.test_images_scenes import (
    GS1_DATA_MATRIX_TEXT,
    LABEL_URL,
    gs1_data_matrix,
    label_qr,
    micro_qr,
    photo,
    place,
)


def _save(image: Image.Image, path: Path) -> Path:
    image.save(path, compress_level=1)
    return path


@pytest.fixture
def label_and_data_matrix(tmp_path: Path) -> Path:
    """A drum label: our QR on the left, a GS1 DataMatrix on the right, both a little turned."""
    scene = place(photo(11), label_qr(LABEL_URL), (380, 480), module_px=5, degrees=12)
    place(scene, gs1_data_matrix(), (930, 470), module_px=7, degrees=-20)
    return _save(scene, tmp_path / "drum.png")


def test_scan_image_prints_every_label_decoded_and_parsed(
    label_and_data_matrix: Path, tmp_path: Path
) -> None:
    result = run_cli("scan", "image", str(label_and_data_matrix), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (file,) = json.loads(result.stdout)["files"]
    assert file["file"] == str(label_and_data_matrix)
    label, data_matrix = file["symbols"]
    assert (label["format"], label["symbology"], label["text"]) == ("QRCode", "]Q1", LABEL_URL)
    assert label["parsed"]["kind"] == "label_url"
    assert label["parsed"]["trace_code"] == "CT-7K3MQ-9XA2B-4FHCN"
    assert (data_matrix["format"], data_matrix["symbology"]) == ("DataMatrix", "]d2")
    assert data_matrix["text"] == GS1_DATA_MATRIX_TEXT
    assert data_matrix["parsed"]["kind"] == "gs1_element_string"
    assert data_matrix["parsed"]["hri"] == (
        "(01)09506000134352(17)270131(10)B2026-01(21)CT7K3MQ9XA2B4FHCN"
    )
    assert all(len(symbol["position"]) == 4 for symbol in file["symbols"])
    assert result.stderr == ""


def _invoke(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["image", *args])
    document = json.loads(result.stdout) if result.stdout else {}
    return result.exit_code, document, result.stderr


def test_a_file_without_a_label_exits_1(label_and_data_matrix: Path, tmp_path: Path) -> None:
    empty = _save(photo(12), tmp_path / "wall.png")
    exit_code, document, stderr = _invoke(str(label_and_data_matrix), str(empty))
    assert exit_code == 1
    assert [len(file["symbols"]) for file in document["files"]] == [2, 0]
    assert f"{empty}: no label found" in stderr


def test_a_symbol_that_does_not_parse_exits_1_with_its_reason(tmp_path: Path) -> None:
    scene = place(photo(13), micro_qr("CT2PALLET"), (640, 480), module_px=6)
    exit_code, document, stderr = _invoke(str(_save(scene, tmp_path / "micro.png")))
    assert exit_code == 1
    (symbol,) = document["files"][0]["symbols"]
    assert symbol["text"] == "CT2PALLET" and "parsed" not in symbol
    assert symbol["error"]["code"] == "invalid_code"
    assert "not parsed (invalid_code)" in stderr


def test_an_unreadable_file_exits_2_and_the_others_are_still_read(
    label_and_data_matrix: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    missing = tmp_path / "missing.jpg"
    exit_code, document, stderr = _invoke(str(broken), str(label_and_data_matrix), str(missing))
    assert exit_code == 2
    broken_report, good_report, missing_report = document["files"]
    assert broken_report["error"]["code"] == "image_unreadable"
    assert missing_report["error"]["code"] == "image_unreadable"
    assert len(good_report["symbols"]) == 2
    assert "missing.jpg" in missing_report["error"]["message"]
    assert f"{broken}: cannot read (image_unreadable)" in stderr


def test_format_limits_what_is_read(label_and_data_matrix: Path) -> None:
    exit_code, document, _ = _invoke("--format", "DataMatrix", str(label_and_data_matrix))
    assert exit_code == 0
    (symbol,) = document["files"][0]["symbols"]
    assert symbol["symbology"] == "]d2"


def test_an_unknown_format_is_a_usage_error(label_and_data_matrix: Path) -> None:
    result = CliRunner().invoke(app, ["image", "--format", "Aztec", str(label_and_data_matrix)])
    assert result.exit_code == 2
    assert "Aztec is not one of" in result.stderr
