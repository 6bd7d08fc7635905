"""Decoding labels from camera images: every condition decodes the exact payload.

The photos are made in the test (see ``test_images_scenes.py``): our signed label
QR, GS1 DataMatrix, GS1-128 and Micro QR, turned, blurred, noised, faded,
JPEG-compressed, shrunk, skewed, inverted, and many at once on a pallet. Each
condition asserts the exact text (GS separators included), the format and the
AIM symbology, and, where the symbol sits still, that its position maps back to
where it was placed, including from the upscaled and turned retry passes.
"""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import scanners.images
from ledger.codes import generate_code
from scanners.images import DecodedSymbol, ImageDecodeError, decode_image
from tests.scanners.test_images_scenes import (
    GS1_128_TEXT,
    GS1_DATA_MATRIX_TEXT,
    LABEL_URL,
    MICRO_QR_TEXT,
    PHOTO_SIZE,
    blurred,
    gs1_128,
    gs1_data_matrix,
    inverted,
    jpeg,
    label_qr,
    low_contrast,
    make_label_url,
    micro_qr,
    noisy,
    pallet,
    photo,
    place,
    single,
    skewed,
)

MIDDLE = (PHOTO_SIZE[0] / 2, PHOTO_SIZE[1] / 2)
LABEL = (LABEL_URL, "QRCode", "]Q1", False)
DATA_MATRIX = (GS1_DATA_MATRIX_TEXT, "DataMatrix", "]d2", True)
LINEAR = (GS1_128_TEXT, "Code128", "]C1", True)
MICRO = (MICRO_QR_TEXT, "MicroQRCode", "]Q1", False)


@dataclass(frozen=True)
class Condition:
    """A photo of one symbol, what must decode from it, and whether it sits in the middle."""

    build: Callable[[], Image.Image]
    expected: tuple[str, str, str, bool]
    centred: bool = True


def _label(module_px: float = 6.0, degrees: float = 0.0) -> Image.Image:
    return single(label_qr(LABEL_URL), module_px=module_px, degrees=degrees)


CONDITIONS: dict[str, Condition] = {
    "clean": Condition(_label, LABEL),
    **{
        f"rotated-{degrees}": Condition(functools.partial(_label, degrees=degrees), LABEL)
        for degrees in (15, 45, 90, 137, 200)
    },
    "blur-sigma-2": Condition(lambda: blurred(_label(), 2.0), LABEL),
    "blur-sigma-2.5": Condition(lambda: blurred(_label(), 2.5), LABEL),
    "noise-sigma-40": Condition(lambda: noisy(_label(), 40), LABEL),
    "low-contrast-110-on-150": Condition(lambda: low_contrast(_label(), 110, 150), LABEL),
    "low-contrast-noisy": Condition(lambda: noisy(low_contrast(_label(), 110, 150), 6), LABEL),
    "jpeg-quality-20": Condition(lambda: jpeg(_label(module_px=4), 20), LABEL),
    "small-2px-modules": Condition(lambda: _label(module_px=2.0), LABEL),
    "small-1.5px-modules": Condition(lambda: _label(module_px=1.5), LABEL),
    "small-1.5px-modules-turned-30": Condition(lambda: _label(1.5, 30), LABEL),
    "perspective": Condition(lambda: skewed(_label()), LABEL, centred=False),
    "inverted": Condition(lambda: inverted(_label()), LABEL),
    "turned-blurred-noisy-jpeg": Condition(
        lambda: jpeg(noisy(blurred(_label(4, 30), 1.2), 15), 30), LABEL
    ),
    "gs1-datamatrix-turned-33": Condition(
        lambda: single(gs1_data_matrix(), module_px=8, degrees=33), DATA_MATRIX
    ),
    "gs1-datamatrix-small-turned-27": Condition(
        lambda: single(gs1_data_matrix(), module_px=2, degrees=27), DATA_MATRIX
    ),
    "gs1-datamatrix-noisy": Condition(
        lambda: noisy(single(gs1_data_matrix(), module_px=5, degrees=70), 30), DATA_MATRIX
    ),
    "gs1-datamatrix-inverted": Condition(
        lambda: inverted(single(gs1_data_matrix(), module_px=6, degrees=20)), DATA_MATRIX
    ),
    "micro-qr-turned-60": Condition(lambda: single(micro_qr(), module_px=6, degrees=60), MICRO),
    "gs1-128-level": Condition(lambda: single(gs1_128(), module_px=2), LINEAR),
    "gs1-128-upright": Condition(lambda: single(gs1_128(), module_px=2, degrees=90), LINEAR),
    "gs1-128-tilted-35": Condition(lambda: single(gs1_128(), module_px=2, degrees=35), LINEAR),
}


@pytest.mark.parametrize("condition", CONDITIONS.values(), ids=CONDITIONS.keys())
def test_condition_decodes_the_exact_payload(condition: Condition) -> None:
    (symbol,) = decode_image(condition.build())
    assert (symbol.text, symbol.format, symbol.symbology, symbol.gs1) == condition.expected
    assert len(symbol.position) == 4
    if condition.centred:
        assert math.dist(symbol.center, MIDDLE) < 6, symbol.position


def test_a_pallet_photo_decodes_every_label_in_reading_order() -> None:
    scene = pallet()
    found = decode_image(scene.image)
    assert tuple(symbol.text for symbol in found) == scene.texts_in_reading_order
    assert [symbol.format for symbol in found[:4]] == [
        "QRCode",
        "DataMatrix",
        "MicroQRCode",
        "Code128",
    ]


def test_a_compressed_noisy_pallet_photo_decodes_every_label() -> None:
    scene = pallet(seed=8)
    found = decode_image(jpeg(noisy(scene.image, 6), 40), thorough=True)
    assert tuple(symbol.text for symbol in found) == scene.texts_in_reading_order


def test_thorough_reads_a_tilted_bar_code_among_other_labels() -> None:
    scene = place(photo(4), label_qr(LABEL_URL), (300, 480), module_px=4, degrees=10)
    place(scene, gs1_128(), (900, 480), module_px=2, degrees=40)
    assert [symbol.text for symbol in decode_image(scene)] == [LABEL_URL]
    assert [symbol.text for symbol in decode_image(scene, thorough=True)] == [
        LABEL_URL,
        GS1_128_TEXT,
    ]


def test_passes_that_find_the_same_symbol_report_it_once() -> None:
    found = decode_image(_label(module_px=3, degrees=20), thorough=True)
    assert [symbol.text for symbol in found] == [LABEL_URL]


def test_the_same_content_in_two_places_is_two_symbols() -> None:
    scene = place(photo(2), label_qr(LABEL_URL), (320, 480), module_px=4)
    place(scene, label_qr(LABEL_URL), (960, 480), module_px=4, degrees=25)
    found = decode_image(scene)
    assert [symbol.text for symbol in found] == [LABEL_URL, LABEL_URL]
    assert [round(symbol.center[0], -1) for symbol in found] == [320, 960]


def test_formats_limits_what_is_read() -> None:
    scene = pallet()
    found = decode_image(scene.image, formats=["DataMatrix"])
    assert [symbol.text for symbol in found] == [
        text for text in scene.texts_in_reading_order if text.startswith("0109506000134352")
    ]
    assert {symbol.symbology for symbol in found} == {"]d2"}


@pytest.mark.parametrize("formats", [["Aztec"], [], ["QRCode", "EAN13"]])
def test_unsupported_formats_are_refused(formats: list[str]) -> None:
    with pytest.raises(ValueError, match="formats"):
        decode_image(_label(), formats=formats)


# ---------------------------------------------------------------------------
# Nothing to find


def test_a_blank_image_has_no_symbols() -> None:
    assert decode_image(Image.new("L", PHOTO_SIZE, 200)) == []


def test_a_png_photo_without_a_code_has_no_symbols() -> None:
    assert decode_image(_png_bytes(photo(6))) == []


# ---------------------------------------------------------------------------
# Sources: paths, bytes, Pillow images of any mode, EXIF orientation


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _texts(found: list[DecodedSymbol]) -> list[str]:
    return [symbol.text for symbol in found]


def test_a_file_path_as_path_or_str(tmp_path: Path) -> None:
    file = tmp_path / "label.png"
    file.write_bytes(_png_bytes(_label(module_px=4)))
    assert _texts(decode_image(file)) == [LABEL_URL]
    assert _texts(decode_image(str(file))) == [LABEL_URL]


@pytest.mark.parametrize("mode", ["RGB", "P", "CMYK", "1", "I;16", "F"])
def test_any_image_mode(mode: str) -> None:
    gray = _label(module_px=4)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    else:
        image = gray.convert(mode)
    assert _texts(decode_image(image)) == [LABEL_URL]


def test_a_transparent_background_counts_as_white() -> None:
    modules = np.asarray(label_qr(LABEL_URL).resize((265, 265), Image.Resampling.NEAREST))
    rgba = np.zeros((*modules.shape, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(modules < 128, 255, 0)  # black modules on nothing at all
    assert _texts(decode_image(_png_bytes(Image.fromarray(rgba, "RGBA")))) == [LABEL_URL]


def test_exif_orientation_is_applied_before_positions() -> None:
    upright = place(photo(9), label_qr(LABEL_URL), (300, 250), module_px=4)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turn 90 degrees clockwise to display
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=92, exif=exif)
    (symbol,) = decode_image(buffer.getvalue())
    assert symbol.text == LABEL_URL
    assert math.dist(symbol.center, (300, 250)) < 6


# ---------------------------------------------------------------------------
# Unreadable sources


def _truncated_png() -> bytes:
    data = _png_bytes(_label(module_px=4))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"batch,code\nB2026-01,CT-7K3MQ-9XA2B-4FHCN\n", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
        (_truncated_png(), "corrupt image"),
    ],
    ids=["empty", "csv-text", "png-signature-only", "truncated-png"],
)
def test_corrupt_bytes_raise_image_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(ImageDecodeError, match=message) as raised:
        decode_image(data)
    assert raised.value.code == "image_unreadable"


def test_a_missing_file_or_a_folder_raises_image_decode_error(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.png", tmp_path):
        with pytest.raises(ImageDecodeError, match="cannot read image file") as raised:
            decode_image(path)
        assert raised.value.code == "image_unreadable"
        assert raised.value.context == {"path": str(path)}


def test_a_corrupt_file_raises_image_decode_error(tmp_path: Path) -> None:
    file = tmp_path / "broken.jpg"
    file.write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)
    with pytest.raises(ImageDecodeError, match=r"broken\.jpg") as raised:
        decode_image(file)
    assert raised.value.code == "image_unreadable"


def test_too_many_pixels_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanners.images, "MAX_PIXELS", 1000 * 1000)
    with pytest.raises(ImageDecodeError, match="more than the 1000000"):
        decode_image(_png_bytes(_label()))


def test_other_sources_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="not int"):
        decode_image(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Random payloads round-trip through render -> mild degradation -> decode

ORGS = st.from_regex(r"[a-z0-9][a-z0-9._-]{1,31}", fullmatch=True)
BATCHES = st.from_regex(r"[0-9A-Z][0-9A-Z-]{0,11}", fullmatch=True)
# GS1 character set 82 without the parentheses, which the writer's HRI input reads as AIs.
GS1_CHARACTERS = "!\"%&'*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
GS1_VALUES = st.text(alphabet=GS1_CHARACTERS, min_size=1, max_size=20)
MILD = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@MILD
@given(
    code_seed=st.integers(0, 2**32),
    org=ORGS,
    batch=BATCHES,
    degrees=st.floats(0, 360),
    module_px=st.floats(2.5, 6),
    blur_share=st.floats(0, 0.25),
)
def test_random_label_urls_round_trip(
    code_seed: int, org: str, batch: str, degrees: float, module_px: float, blur_share: float
) -> None:
    url = make_label_url(generate_code(random.Random(code_seed).randbytes), org=org, batch=batch)
    image = blurred(_label_of(url, module_px, degrees), blur_share * module_px)
    assert _texts(decode_image(image)) == [url]


def _label_of(url: str, module_px: float, degrees: float) -> Image.Image:
    return single(label_qr(url), module_px=module_px, degrees=degrees)


@MILD
@given(lot=GS1_VALUES, serial=GS1_VALUES, degrees=st.floats(0, 360))
def test_random_gs1_datamatrix_round_trips_with_gs_separators(
    lot: str, serial: str, degrees: float
) -> None:
    symbol = gs1_data_matrix(f"(01)09506000134352(10){lot}(21){serial}")
    (found,) = decode_image(noisy(single(symbol, module_px=5, degrees=degrees), 10))
    assert found.text == "0109506000134352" + f"10{lot}\x1d21{serial}"
    # zxing-cpp 3.1 adds 6 to the modifier for the rectangular DMRE sizes (8x64, 12x64,
    # 20x44, …) that its writer picks for some payloads: ]d8 is GS1 DataMatrix there.
    assert found.symbology in {"]d2", "]d8"}
    assert found.gs1


def test_a_gs1_datamatrix_in_a_dmre_size_reads_as_d8() -> None:
    # zxing-cpp's writer picks the rectangular extension size 8x64 for this payload.
    symbol = gs1_data_matrix("(01)09506000134352(10)0:0:0(21)0:0:0:")
    (found,) = decode_image(single(symbol, module_px=5, degrees=10))
    assert found.text == "0109506000134352" + "100:0:0\x1d210:0:0:"
    assert (found.format, found.symbology, found.gs1) == ("DataMatrix", "]d8", True)
