"""Label images for trace codes: one 25 mm label as PNG or SVG, or an A4 sheet of them.

The QR payload is the label URL from :func:`ledger.codes.label_url` (all characters
in the QR alphanumeric set). Symbols are always made at error level **M**, and a
payload that would need a QR version above :data:`MAX_QR_VERSION` (8) is refused
rather than printed with modules too small to scan. The 4-module quiet zone is
inside the label, so at 300 dpi a version 7 or 8 symbol gets whole 5-pixel
modules (0.42 mm).

A label is ``label_mm`` wide: a square holding the QR and its quiet zone, with
the human-readable code printed under it (the canonical ``CT-XXXXX-XXXXX-XXXXX``
form, so a person can type it when the QR is damaged). PNGs are rendered at
``dpi`` (300 by default) with whole-pixel modules and carry the dpi in their
metadata, so they print at their true size. SVGs are vector, in millimetres.

This is the I/O side of :mod:`ledger.codes`; it needs ``qrcode`` and Pillow.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

from ledger.codes import parse_label_url
from ledger.errors import InvalidInputError

MAX_QR_VERSION: Final = 8
QUIET_ZONE_MODULES: Final = 4
LABEL_MM: Final = 25.0
CAPTION_MM: Final = 4.0
DPI: Final = 300
A4_MM: Final = (210.0, 297.0)
SHEET_MARGIN_MM: Final = 8.0
SHEET_GAP_MM: Final = 3.0
SHEET_COLUMNS: Final = 7
_FONT_FILES: Final = ("DejaVuSansMono-Bold.ttf", "DejaVuSansMono.ttf", "LiberationMono-Bold.ttf")
_SVG_FONTS: Final = "'DejaVu Sans Mono', 'Noto Sans Mono', Menlo, Consolas, monospace"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class LabelTooLargeError(InvalidInputError):
    """The payload needs a QR version above 8 at level M: it would not scan on a 25 mm label."""

    code = "label_too_large"


class LabelSheetError(InvalidInputError):
    """The labels do not fit the sheet (too many, too many columns, or none)."""

    code = "label_sheet"


def _make_qr(url: str) -> qrcode.QRCode[Any]:  # never made into an image: any factory
    qr = qrcode.QRCode(
        version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=QUIET_ZONE_MODULES
    )
    qr.add_data(url)
    try:
        qr.make(fit=True)
    except (DataOverflowError, ValueError) as exc:  # qrcode 8.2 raises ValueError past 40
        raise LabelTooLargeError("payload does not fit any QR version", chars=len(url)) from exc
    version = int(qr.version)
    if version > MAX_QR_VERSION:
        raise LabelTooLargeError(
            f"payload needs QR version {version} at level M; a 25 mm label takes at most"
            f" version {MAX_QR_VERSION}",
            version=version,
            chars=len(url),
        )
    return qr


def qr_version(url: str) -> int:
    """The QR version (at level M) that ``url`` is rendered with.

    Raises:
        LabelTooLargeError: it would be above :data:`MAX_QR_VERSION`.
    """
    return int(_make_qr(url).version)


def qr_matrix(url: str) -> list[list[bool]]:
    """The module matrix for ``url`` at level M, quiet zone included (``True`` = dark).

    Raises:
        LabelTooLargeError: the version would be above :data:`MAX_QR_VERSION`.
    """
    return [[bool(cell) for cell in row] for row in _make_qr(url).get_matrix()]


def _caption_for(url: str, caption: str | None) -> str:
    return parse_label_url(url).code if caption is None else caption


def _px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def _font(size: int) -> Font:
    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _fitted_font(draw: ImageDraw.ImageDraw, text: str, width: int, height: int) -> Font:
    size = max(6, int(height * 0.8))
    while True:
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if (right - left <= width and bottom - top <= height) or size <= 6:
            return font
        size -= 1


def _dark_runs(matrix: Sequence[Sequence[bool]]) -> Iterator[tuple[int, int, int]]:
    """Horizontal runs of dark modules as ``(row, first column, column after the last)``."""
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            yield y, start, x


def _label_image(url: str, caption: str | None, dpi: int, label_mm: float) -> Image.Image:
    matrix = qr_matrix(url)
    text = _caption_for(url, caption)
    width = _px(label_mm, dpi)
    modules = len(matrix)
    box = width // modules
    if box < 2:
        raise InvalidInputError(
            "resolution too low: a QR module would be under 2 pixels", dpi=dpi, label_mm=label_mm
        )
    band = _px(CAPTION_MM, dpi)
    image = Image.new("L", (width, width + band), 255)
    offset = (width - modules * box) // 2
    draw = ImageDraw.Draw(image)
    for y, start, end in _dark_runs(matrix):
        draw.rectangle(
            (
                offset + start * box,
                offset + y * box,
                offset + end * box - 1,
                offset + (y + 1) * box - 1,
            ),
            fill=0,
        )
    margin = max(1, width // 25)
    font = _fitted_font(draw, text, width - 2 * margin, band - margin)
    draw.text((width / 2, width + band / 2 - margin / 2), text, fill=0, font=font, anchor="mm")
    return image


def _png(image: Image.Image, dpi: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def render_png(
    url: str, *, caption: str | None = None, dpi: int = DPI, label_mm: float = LABEL_MM
) -> bytes:
    """One label as PNG: the QR (level M, version ≤ 8) with the code printed under it.

    ``caption`` defaults to the canonical code parsed from ``url``.

    Raises:
        LabelTooLargeError: the payload needs a QR version above 8.
        InvalidInputError: ``url`` is not a label URL (when no caption is given),
            or the resolution is too low.
    """
    return _png(_label_image(url, caption, dpi, label_mm), dpi)


def render_svg(url: str, *, caption: str | None = None, label_mm: float = LABEL_MM) -> bytes:
    """One label as SVG, sized in millimetres, with the code as a ``<text>`` element.

    The drawing is in module units: the QR (quiet zone included) fills the
    label's width, and the caption band below it is :data:`CAPTION_MM` high.

    Raises:
        LabelTooLargeError: the payload needs a QR version above 8.
        InvalidInputError: ``url`` is not a label URL (when no caption is given).
    """
    matrix = qr_matrix(url)
    text = _caption_for(url, caption)
    modules = len(matrix)
    band = modules * CAPTION_MM / label_mm
    height = modules + band
    runs = [f"M{start} {y}h{end - start}v1h-{end - start}z" for y, start, end in _dark_runs(matrix)]
    text_width = modules - QUIET_ZONE_MODULES
    font_size = min(band * 0.7, text_width / (0.6 * max(1, len(text))))  # monospace: 0.6 em
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1"'
        f' width="{label_mm:g}mm" height="{label_mm * height / modules:.3f}mm"'
        f' viewBox="0 0 {modules} {height:.3f}">\n'
        f'<rect width="{modules}" height="{height:.3f}" fill="#fff"/>\n'
        f'<path d="{"".join(runs)}" fill="#000" shape-rendering="crispEdges"/>\n'
        f'<text x="{modules / 2:g}" y="{modules + band * 0.5:.3f}"'
        f" font-family={quoteattr(_SVG_FONTS)}"
        f' font-size="{font_size:.3f}" font-weight="bold" text-anchor="middle"'
        f' dominant-baseline="central" textLength="{text_width:g}"'
        f' lengthAdjust="spacingAndGlyphs">{escape(text)}</text>\n'
        "</svg>\n"
    )
    return svg.encode("utf-8")


def sheet_capacity(
    columns: int = SHEET_COLUMNS,
    *,
    dpi: int = DPI,
    label_mm: float = LABEL_MM,
    margin_mm: float = SHEET_MARGIN_MM,
    gap_mm: float = SHEET_GAP_MM,
) -> int:
    """How many labels an A4 sheet holds with ``columns`` columns (0 if the columns do not fit)."""
    page_w, page_h = (_px(side, dpi) for side in A4_MM)
    label_w = _px(label_mm, dpi)
    label_h = label_w + _px(CAPTION_MM, dpi)
    margin, gap = _px(margin_mm, dpi), _px(gap_mm, dpi)
    if columns < 1 or columns * label_w + (columns - 1) * gap > page_w - 2 * margin:
        return 0
    rows = (page_h - 2 * margin + gap) // (label_h + gap)
    return columns * max(0, rows)


def render_sheet_png(
    urls: Sequence[str],
    columns: int = SHEET_COLUMNS,
    *,
    dpi: int = DPI,
    label_mm: float = LABEL_MM,
    margin_mm: float = SHEET_MARGIN_MM,
    gap_mm: float = SHEET_GAP_MM,
) -> bytes:
    """A printable A4 page (portrait, ``dpi``) of 25 mm labels, filled row by row.

    With the defaults (300 dpi, 8 mm margins, 3 mm gaps) a page holds 7 x 8 = 56 labels.

    Raises:
        LabelSheetError: no URLs, columns that do not fit the page width, or more
            labels than the page holds (see :func:`sheet_capacity`).
        LabelTooLargeError: a payload needs a QR version above 8.
    """
    if not urls:
        raise LabelSheetError("a sheet needs at least one label")
    capacity = sheet_capacity(
        columns, dpi=dpi, label_mm=label_mm, margin_mm=margin_mm, gap_mm=gap_mm
    )
    if capacity == 0:
        raise LabelSheetError("that many columns do not fit an A4 page", columns=columns)
    if len(urls) > capacity:
        raise LabelSheetError(
            f"an A4 page holds at most {capacity} labels in {columns} columns",
            labels=len(urls),
        )
    page = Image.new("L", (_px(A4_MM[0], dpi), _px(A4_MM[1], dpi)), 255)
    margin, gap = _px(margin_mm, dpi), _px(gap_mm, dpi)
    for index, url in enumerate(urls):
        label = _label_image(url, None, dpi, label_mm)
        row, column = divmod(index, columns)
        page.paste(
            label, (margin + column * (label.width + gap), margin + row * (label.height + gap))
        )
    return _png(page, dpi)
