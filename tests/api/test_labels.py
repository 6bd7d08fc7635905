"""Label images: render, decode with a real QR reader (zxing-cpp), parse and verify offline.

zxing-cpp is a test dependency. Without it these decode tests skip on a
developer's machine and fail in CI (``tests.conftest.IN_CI``), so CI can never
pass without reading the labels back.
"""

from __future__ import annotations

import importlib
import io
import random
import re
import sys
import xml.etree.ElementTree as ET
from types import ModuleType
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFilter

from api.labels import (
    LabelSheetError,
    LabelTooLargeError,
    qr_matrix,
    qr_version,
    render_png,
    render_sheet_png,
    render_svg,
    sheet_capacity,
)
from ledger.codes import (
    MAX_BASE_URL_CHARS,
    MAX_BATCH_CHARS,
    MAX_ORG_CHARS,
    CodeFacts,
    generate_code,
    issue_batch,
    label_url,
    parse_label_url,
    sign_code,
    verify_code,
)
from ledger.errors import InvalidInputError, SignatureInvalidError
from ledger.signing import ED25519, Ed25519Signer

REGISTRY = Ed25519Signer.from_seed(b"\x21" * 32)
FORGER = Ed25519Signer.from_seed(b"\x22" * 32)
BASE = "https://ct.example.cn"
ZXING_MISSING = (
    "zxing-cpp is not installed; the label decode tests need it: "
    ".venv/bin/pip install 'zxing-cpp>=3.1'"
)


def load_zxing() -> ModuleType:
    """Import zxing-cpp, or skip (developer machine) / fail (CI) with a clear message."""
    from tests.conftest import IN_CI  # read at call time; conftest owns the CI rule

    try:
        return importlib.import_module("zxingcpp")
    except ImportError:
        if IN_CI:
            pytest.fail(ZXING_MISSING, pytrace=False)
        pytest.skip(ZXING_MISSING)


@pytest.fixture(scope="module")
def zxing() -> ModuleType:
    return load_zxing()


def test_missing_zxing_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zxingcpp", None)  # makes the import raise ImportError
    monkeypatch.setattr("tests.conftest.IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="zxing-cpp is not installed"):
        load_zxing()
    monkeypatch.setattr("tests.conftest.IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="zxing-cpp is not installed"):
        load_zxing()


def batch(count: int, seed: int = 1, **changes: Any) -> list[Any]:
    args: dict[str, Any] = {
        "org": "acme-gas",
        "form_id": "26.3",
        "packaging": "cylinder",
        "batch_id": "B2026-01",
        "issued_at": "2026-01-31",
    }
    args.update(changes)
    return issue_batch(
        args["org"],
        args["form_id"],
        args["packaging"],
        args["batch_id"],
        args["issued_at"],
        count,
        REGISTRY,
        random.Random(seed).randbytes,
    )


def decode(zxing: ModuleType, image: Image.Image) -> list[Any]:
    return list(zxing.read_barcodes(image, formats=zxing.BarcodeFormat.QRCode))


def longest_signed() -> tuple[Any, str]:
    item = CodeFacts(
        code=generate_code(random.Random(5).randbytes),
        org="o" * (MAX_ORG_CHARS - 2) + "_x",
        form="999.999",
        packaging="other",
        batch="B" * MAX_BATCH_CHARS,
        issued_at="2099-12-31",
    )
    signed = sign_code(item, REGISTRY)
    return signed, label_url(signed, "HTTPS://" + "A" * (MAX_BASE_URL_CHARS - 8))


# ---------------------------------------------------------------------------
# PNG


def test_png_decodes_to_the_payload_which_parses_and_verifies(zxing: ModuleType) -> None:
    signed = batch(1)[0]
    url = label_url(signed, BASE)
    image = Image.open(io.BytesIO(render_png(url)))
    found = decode(zxing, image)
    assert len(found) == 1
    result = found[0]
    assert result.text == url
    assert result.symbology_identifier == "]Q1"  # plain QR, no FNC1
    assert result.extra["ECLevel"] == "M"
    assert int(result.extra["Version"]) == qr_version(url) == 7
    parsed = parse_label_url(result.text)
    assert parsed == signed.for_label()
    verify_code(parsed, ED25519, REGISTRY.public_key)
    with pytest.raises(SignatureInvalidError):
        verify_code(parsed, ED25519, FORGER.public_key)


def test_png_is_a_25mm_label_at_300_dpi_with_whole_pixel_modules() -> None:
    url = label_url(batch(1)[0], BASE)
    image = Image.open(io.BytesIO(render_png(url)))
    assert image.size == (295, 295 + 47)  # 25 mm wide, 4 mm caption band
    dpi = image.info["dpi"]
    assert round(dpi[0]) == round(dpi[1]) == 300
    modules = len(qr_matrix(url))
    assert modules == 4 * 7 + 17 + 8  # version 7 plus a 4-module quiet zone
    assert 295 // modules == 5  # 5 px = 0.42 mm per module at 300 dpi


def test_the_longest_payload_renders_at_version_8_and_verifies(zxing: ModuleType) -> None:
    signed, url = longest_signed()
    assert qr_version(url) == 8
    found = decode(zxing, Image.open(io.BytesIO(render_png(url))))
    assert [r.text for r in found] == [url]
    assert int(found[0].extra["Version"]) == 8
    parsed = parse_label_url(found[0].text)
    assert parsed == signed.for_label()
    assert parsed.facts.org.endswith("_x")
    verify_code(parsed, ED25519, REGISTRY.public_key)


@pytest.mark.parametrize(("scale", "blur"), [(0.6, 1.0), (0.45, 1.5)])
def test_the_longest_label_survives_a_rough_camera_image(
    zxing: ModuleType, scale: float, blur: float
) -> None:
    # rotated 10 degrees, blurred and downscaled to ~2 px per module
    _, url = longest_signed()
    image = Image.open(io.BytesIO(render_png(url)))
    rough = image.rotate(10, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(blur))
    rough = rough.resize((int(rough.width * scale), int(rough.height * scale)))
    assert [r.text for r in decode(zxing, rough)] == [url]


def test_a_lowercased_scan_still_parses_and_verifies(zxing: ModuleType) -> None:
    signed = batch(1, seed=2)[0]
    url = label_url(signed, BASE)
    text = decode(zxing, Image.open(io.BytesIO(render_png(url))))[0].text
    verify_code(parse_label_url(text.lower()), ED25519, REGISTRY.public_key)


def test_the_code_under_the_qr_is_the_canonical_code() -> None:
    # The caption defaults to the canonical code parsed from the URL; with an
    # explicit caption the same pixels are drawn.
    signed = batch(1, seed=3)[0]
    url = label_url(signed, BASE)
    assert render_png(url) == render_png(url, caption=signed.code)
    assert render_png(url) != render_png(url, caption="CT-00000-00000-00000")


def test_a_payload_above_version_8_is_refused() -> None:
    too_long = "HTTPS://CT.EXAMPLE.CN/" + "A" * 200  # 222 alphanumeric characters: 9-M
    with pytest.raises(LabelTooLargeError, match="version 9") as info:
        render_png(too_long, caption="X")
    assert info.value.code == "label_too_large"
    assert isinstance(info.value, InvalidInputError)
    with pytest.raises(LabelTooLargeError):
        render_svg(too_long, caption="X")
    with pytest.raises(LabelTooLargeError):
        qr_version(too_long.lower())  # byte mode: even larger
    with pytest.raises(LabelTooLargeError, match="does not fit any QR version"):
        qr_version("A" * 5000)


def test_a_non_label_url_needs_an_explicit_caption(zxing: ModuleType) -> None:
    with pytest.raises(InvalidInputError, match="not a chemtrace label URL"):
        render_png("HTTPS://EXAMPLE.CN/")
    image = Image.open(io.BytesIO(render_png("HTTPS://EXAMPLE.CN/", caption="demo")))
    assert [r.text for r in decode(zxing, image)] == ["HTTPS://EXAMPLE.CN/"]


def test_too_low_a_resolution_is_refused() -> None:
    url = label_url(batch(1)[0], BASE)
    with pytest.raises(InvalidInputError, match="resolution too low"):
        render_png(url, dpi=72)


# ---------------------------------------------------------------------------
# SVG


def _rasterise_svg_path(svg: bytes, scale: int = 6) -> Image.Image:
    """Draw the SVG's module path (our own M x y h w v1 h-w z runs) into a bitmap."""
    root = ET.fromstring(svg)  # noqa: S314 (our own SVG, not untrusted input)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    path = root.find("svg:path", ns)
    assert path is not None
    width = int(root.attrib["viewBox"].split()[2])
    image = Image.new("L", (width * scale, width * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path.attrib["d"]):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle((x0, y0, x0 + int(w) * scale - 1, y0 + scale - 1), fill=0)
    return image


def test_svg_renders_with_the_code_text_and_decodes(zxing: ModuleType) -> None:
    signed = batch(1, seed=4)[0]
    url = label_url(signed, BASE)
    svg = render_svg(url)
    root = ET.fromstring(svg)  # noqa: S314 (our own SVG, not untrusted input)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert root.attrib["width"] == "25mm"
    text = root.find("svg:text", ns)
    assert text is not None and text.text == signed.code
    assert signed.code.encode() in svg
    found = decode(zxing, _rasterise_svg_path(svg))
    assert [r.text for r in found] == [url]
    verify_code(parse_label_url(found[0].text), ED25519, REGISTRY.public_key)


def test_svg_draws_exactly_the_qr_matrix() -> None:
    url = label_url(batch(1, seed=5)[0], BASE)
    matrix = qr_matrix(url)
    image = _rasterise_svg_path(render_svg(url), scale=1)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            assert (image.getpixel((x, y)) == 0) == dark


def test_svg_escapes_a_caption() -> None:
    svg = render_svg("HTTPS://EXAMPLE.CN/", caption="<a&b>")
    assert b"&lt;a&amp;b&gt;" in svg
    ET.fromstring(svg)  # noqa: S314 (our own SVG, not untrusted input)


# ---------------------------------------------------------------------------
# A4 sheet


def test_sheet_of_labels_decodes_every_code(zxing: ModuleType) -> None:
    signed = batch(21, seed=6)
    urls = [label_url(item, BASE) for item in signed]
    image = Image.open(io.BytesIO(render_sheet_png(urls)))
    assert image.size == (2480, 3508)  # A4 at 300 dpi
    found = decode(zxing, image)
    assert sorted(r.text for r in found) == sorted(urls)
    for result in found:
        verify_code(parse_label_url(result.text), ED25519, REGISTRY.public_key)


def test_a_full_sheet_decodes_every_code(zxing: ModuleType) -> None:
    capacity = sheet_capacity()
    assert capacity == 7 * 8
    urls = [label_url(item, BASE) for item in batch(capacity, seed=7)]
    image = Image.open(io.BytesIO(render_sheet_png(urls)))
    assert sorted(r.text for r in decode(zxing, image)) == sorted(urls)


def test_sheet_limits_are_enforced() -> None:
    urls = [label_url(item, BASE) for item in batch(2, seed=8)]
    with pytest.raises(LabelSheetError, match="at least one"):
        render_sheet_png([])
    with pytest.raises(LabelSheetError, match="columns do not fit"):
        render_sheet_png(urls, columns=8)
    with pytest.raises(LabelSheetError, match="columns do not fit"):
        render_sheet_png(urls, columns=0)
    with pytest.raises(LabelSheetError, match="at most 8 labels"):
        render_sheet_png(urls * 5, columns=1)
    assert sheet_capacity(8) == 0
    assert sheet_capacity(3) == 3 * 8
