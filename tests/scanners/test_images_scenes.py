"""Photos for the image decoder tests, made in the test run: symbols, scenes, degradations.

Symbols are rendered at one pixel per module (our label QR with ``qrcode``, as
``api/labels.py`` prints it; GS1 DataMatrix, GS1-128 and Micro QR with zxing-cpp's
writer) and placed on a 1280x960 "photo" the way a camera sees them: resampled to
a fractional module size with antialiasing, turned with bicubic interpolation,
then blurred, noised, flattened or JPEG-compressed. Every random choice comes from
a seeded generator, so each photo is the same on every run.

The tests here check the generator itself: each rendered symbol reads back, as
the symbology it claims, before any test relies on it.
"""

from __future__ import annotations

import functools
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pytest
import qrcode
import zxingcpp
from biip.checksums import gs1_standard_check_digit
from biip.sscc import Sscc
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from qrcode.constants import ERROR_CORRECT_M

from ledger.codes import CodeFacts, generate_code, label_url, sign_code
from ledger.signing import Ed25519Signer

PHOTO_SIZE: Final = (1280, 960)
QUIET_ZONE_MODULES: Final = 4
THROWAWAY_REGISTRY: Final = Ed25519Signer.from_seed(b"\x5a" * 32)
BASE_URL: Final = "HTTPS://CT.EXAMPLE.CN"

GS1_DATA_MATRIX_HRI: Final = "(01)09506000134352(17)270131(10)B2026-01(21)CT7K3MQ9XA2B4FHCN"
# (01) and (17) are fixed-length; (10) is variable-length, so GS ends it.
GS1_DATA_MATRIX_TEXT: Final = (
    "0109506000134352" + "17270131" + "10B2026-01\x1d" + "21CT7K3MQ9XA2B4FHCN"
)
MICRO_QR_TEXT: Final = "CT7K3MQ9XA2B4FHCN"


def sscc(serial_reference: str) -> str:
    """An 18-digit SSCC under the GS1 example prefix 0950600013435, with its check digit."""
    body = "0" + "9506000134352" + serial_reference.zfill(3)
    return body + str(gs1_standard_check_digit(body))


GS1_128_HRI: Final = f"(00){sscc('999')}"
GS1_128_TEXT: Final = f"00{sscc('999')}"


def make_label_url(
    code: str = "CT-7K3MQ-9XA2B-4FHCN", *, org: str = "acme-gas", batch: str = "B2026-01"
) -> str:
    """A real label URL for ``code``, signed by a throwaway registry key."""
    facts = CodeFacts(
        code=code,
        org=org,
        form="26.3",
        packaging="cylinder",
        batch=batch,
        issued_at="2026-01-31",
    )
    return label_url(sign_code(facts, THROWAWAY_REGISTRY), BASE_URL)


def seeded_label_urls(count: int, seed: int) -> list[str]:
    """``count`` label URLs for distinct codes drawn from a seeded source."""
    random_bytes = random.Random(seed).randbytes
    return [make_label_url(generate_code(random_bytes)) for _ in range(count)]


LABEL_URL: Final = make_label_url()


# ---------------------------------------------------------------------------
# Symbols, one pixel per module, quiet zone included


@functools.cache
def label_qr(text: str) -> Image.Image:
    """Our label QR (level M, 4-module quiet zone), as ``api/labels.py`` makes it."""
    qr = qrcode.QRCode(
        version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=QUIET_ZONE_MODULES
    )
    qr.add_data(text)
    qr.make(fit=True)
    modules: Image.Image = qr.make_image().get_image()
    return modules.convert("L")


def zxing_symbol(
    text: str, symbol_format: zxingcpp.BarcodeFormat, *, gs1: bool = False
) -> Image.Image:
    """A symbol from zxing-cpp's writer; GS1 content is given in HRI form ``(01)…``."""
    options = {"gs1": True} if gs1 else {}
    barcode = zxingcpp.create_barcode(text, symbol_format, **options)
    # A copy, so no zxing-cpp image outlives the run (nanobind reports those as leaks).
    return Image.fromarray(np.array(barcode.to_image(scale=1)))


def gs1_data_matrix(hri: str = GS1_DATA_MATRIX_HRI) -> Image.Image:
    return zxing_symbol(hri, zxingcpp.BarcodeFormat.DataMatrix, gs1=True)


def micro_qr(text: str = MICRO_QR_TEXT) -> Image.Image:
    return zxing_symbol(text, zxingcpp.BarcodeFormat.MicroQRCode)


def gs1_128(hri: str = GS1_128_HRI, *, height_ratio: float = 0.3) -> Image.Image:
    """A GS1-128 bar code whose bars are ``height_ratio`` of its width tall (a shipping label)."""
    row = np.asarray(zxing_symbol(hri, zxingcpp.BarcodeFormat.Code128, gs1=True))[0]
    height = max(1, round(len(row) * height_ratio))
    return Image.fromarray(np.repeat(row[np.newaxis, :], height, axis=0))


# ---------------------------------------------------------------------------
# Photos


def photo(seed: int, *, size: tuple[int, int] = PHOTO_SIZE, clutter: bool = True) -> Image.Image:
    """A grey, unevenly lit background with printed text and boxes, and sensor noise."""
    return _background(seed, size, clutter).copy()


@functools.cache
def _background(seed: int, size: tuple[int, int], clutter: bool) -> Image.Image:
    width, height = size
    rows, columns = np.mgrid[0:height, 0:width]
    light = 175 + 40 * (columns / width) - 25 * (rows / height)
    sensor = np.random.default_rng(seed).normal(0, 2.5, (height, width))
    image = Image.fromarray(np.clip(light + sensor, 0, 255).astype(np.uint8))
    if clutter:
        _print_clutter(image, random.Random(seed))
    return image


def _print_clutter(image: Image.Image, rng: random.Random) -> None:
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=18)
    width, height = image.size
    for _ in range(30):
        words = "".join(rng.choice("ABCDEFGHJKMNPQRSTVWXYZ0123456789 -") for _ in range(20))
        draw.text(
            (rng.randrange(width), rng.randrange(height)), words, fill=rng.randrange(90), font=font
        )
    for _ in range(10):
        left, top = rng.randrange(width), rng.randrange(height)
        box = (left, top, left + rng.randrange(20, 300), top + rng.randrange(20, 200))
        draw.rectangle(box, outline=rng.randrange(120), width=rng.randrange(1, 5))


def place(
    scene: Image.Image,
    symbol: Image.Image,
    center: tuple[float, float],
    *,
    module_px: float,
    degrees: float = 0.0,
) -> Image.Image:
    """Paste ``symbol`` (one pixel per module) at ``center``, ``module_px`` wide modules, turned.

    The symbol is blown up 8x with crisp edges, then resampled down to its size in
    the photo with antialiasing, as a lens and sensor would.
    """
    crisp = symbol.resize((symbol.width * 8, symbol.height * 8), Image.Resampling.NEAREST)
    size = (round(symbol.width * module_px), round(symbol.height * module_px))
    sampled = crisp.resize(size, Image.Resampling.LANCZOS)
    opaque = Image.new("L", sampled.size, 255)
    if degrees:
        sampled = sampled.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        opaque = opaque.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    corner = (round(center[0] - sampled.width / 2), round(center[1] - sampled.height / 2))
    scene.paste(sampled, corner, opaque)
    return scene


def single(
    symbol: Image.Image, *, module_px: float, degrees: float = 0.0, seed: int = 1
) -> Image.Image:
    """One symbol in the middle of a photo."""
    center = (PHOTO_SIZE[0] / 2, PHOTO_SIZE[1] / 2)
    return place(photo(seed), symbol, center, module_px=module_px, degrees=degrees)


# ---------------------------------------------------------------------------
# Degradations


def blurred(image: Image.Image, sigma: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(sigma))


def noisy(image: Image.Image, sigma: float, seed: int = 7) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    shaken = values + np.random.default_rng(seed).normal(0, sigma, values.shape)
    return Image.fromarray(np.clip(shaken, 0, 255).astype(np.uint8))


def low_contrast(image: Image.Image, dark: int, light: int) -> Image.Image:
    """Black maps to ``dark`` and white to ``light``: a faded print in flat light."""
    values = np.asarray(image, dtype=np.float32) / 255
    return Image.fromarray((dark + values * (light - dark)).round().astype(np.uint8))


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def inverted(image: Image.Image) -> Image.Image:
    return Image.fromarray(255 - np.asarray(image))


def skewed(image: Image.Image, squeeze: float = 0.25) -> Image.Image:
    """A perspective view: the top edge farther away and narrower than the bottom one."""
    width, height = image.size
    seen = [
        (width * squeeze, 0),
        (width * (1 - squeeze / 3), height * 0.05),
        (width, height),
        (0, height * 0.95),
    ]
    flat = [(0, 0), (width, 0), (width, height), (0, height)]
    return image.transform(
        image.size,
        Image.Transform.PERSPECTIVE,
        _perspective_coefficients(seen, flat),
        Image.Resampling.BICUBIC,
        fillcolor=190,
    )


def _perspective_coefficients(
    seen: Sequence[tuple[float, float]], flat: Sequence[tuple[float, float]]
) -> list[float]:
    """The 8 coefficients Pillow wants: output point -> input point, solved from 4 pairs."""
    rows: list[list[float]] = []
    for (x, y), (u, v) in zip(seen, flat, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    targets = np.array(flat, dtype=float).reshape(8)
    return [float(value) for value in np.linalg.solve(np.array(rows, dtype=float), targets)]


@dataclass(frozen=True)
class Pallet:
    """A photo of many labels, and where each one is (in reading order)."""

    image: Image.Image
    texts_in_reading_order: tuple[str, ...]


def pallet(seed: int = 3) -> Pallet:
    """Twelve labels in a 4x3 grid: label QRs, GS1 DataMatrix, Micro QR and GS1-128.

    The 2D symbols are turned anywhere up to 180 degrees; the GS1-128 labels stay
    within 8 degrees of level (a pallet label on the pallet's side), where the quick
    passes read them.
    """
    rng = random.Random(seed)
    scene = photo(seed)
    urls = iter(seeded_label_urls(3, seed))
    texts: list[str] = []
    for index, (x, y) in enumerate((x, y) for y in (170, 480, 790) for x in (170, 490, 800, 1110)):
        kind = index % 4
        if kind == 0:
            url = next(urls)
            symbol, module_px, texts_entry = label_qr(url), 3.0, url
        elif kind == 1:
            serial = f"SER{index:03d}"
            symbol, module_px = gs1_data_matrix(f"(01)09506000134352(21){serial}"), 5.0
            texts_entry = "0109506000134352" + "21" + serial
        elif kind == 2:
            texts_entry = f"CT{index}PALLET"
            symbol, module_px = micro_qr(texts_entry), 5.0
        else:
            pallet_sscc = sscc(f"{index:03d}")
            symbol, module_px, texts_entry = gs1_128(f"(00){pallet_sscc}"), 1.5, "00" + pallet_sscc
        degrees = rng.uniform(-8, 8) if kind == 3 else rng.uniform(0, 180)
        place(scene, symbol, (x, y), module_px=module_px, degrees=degrees)
        texts.append(texts_entry)
    return Pallet(scene, tuple(texts))


# ---------------------------------------------------------------------------
# The generator reads back as what it claims


def _read_clean(symbol: Image.Image) -> list[zxingcpp.Barcode]:
    big = symbol.resize((symbol.width * 4, symbol.height * 4), Image.Resampling.NEAREST)
    return zxingcpp.read_barcodes(big, text_mode=zxingcpp.TextMode.Plain)


@pytest.mark.parametrize(
    ("symbol", "text", "symbology", "content_type"),
    [
        (label_qr(LABEL_URL), LABEL_URL, "]Q1", zxingcpp.ContentType.Text),
        (gs1_data_matrix(), GS1_DATA_MATRIX_TEXT, "]d2", zxingcpp.ContentType.GS1),
        (gs1_128(), GS1_128_TEXT, "]C1", zxingcpp.ContentType.GS1),
        (micro_qr(), MICRO_QR_TEXT, "]Q1", zxingcpp.ContentType.Text),
    ],
    ids=["label-qr", "gs1-datamatrix", "gs1-128", "micro-qr"],
)
def test_rendered_symbols_read_back_as_what_they_claim(
    symbol: Image.Image, text: str, symbology: str, content_type: zxingcpp.ContentType
) -> None:
    (barcode,) = _read_clean(symbol)
    assert (barcode.text, barcode.symbology_identifier) == (text, symbology)
    assert barcode.content_type == content_type


@pytest.mark.parametrize("serial_reference", ["999", "003", "011"])
def test_sscc_check_digits_agree_with_biip(serial_reference: str) -> None:
    value = sscc(serial_reference)
    assert Sscc.parse(value).value == value


def test_label_url_is_a_real_signed_label() -> None:
    assert LABEL_URL.startswith(BASE_URL + "/C/CT7K3MQ9XA2B4FHCN/1C260131/26.3/ACME-GAS/B2026-01/")
    assert len(set(seeded_label_urls(3, seed=1))) == 3


def test_scenes_are_the_same_on_every_run() -> None:
    first, again = pallet(seed=5), pallet(seed=5)
    assert first.texts_in_reading_order == again.texts_in_reading_order
    assert np.array_equal(np.asarray(noisy(first.image, 30)), np.asarray(noisy(again.image, 30)))
