"""Reading labels from camera images: QR, Micro QR, DataMatrix (GS1 too) and GS1-128.

:func:`decode_image` takes a photo (a file path, its bytes, or a Pillow image) and
returns every distinct symbol in it as a :class:`DecodedSymbol`, top row first and
left to right within a row. zxing-cpp does the reading; this module chooses its
options, adds the retries that measurably help, maps every position back to the
photo and merges what several passes found.

The passes
==========

zxing-cpp's cost is the sum of its per-format readers (one call for four formats
costs what four calls cost), and DataMatrix dominates on any textured photo: on a
1280x960 photo with printed text around the label the DataMatrix reader takes
about 25 ms with ``try_invert`` and 14 ms without, while QR, Micro QR and Code 128
together take about 10 ms with it. So the **quick passes** are:

* QR, Micro QR and Code 128 with ``try_rotate``, ``try_downscale`` and ``try_invert``
  (light-on-dark labels, read for about 2 ms more);
* DataMatrix with ``try_rotate`` (without it a DataMatrix turned past about 45
  degrees is lost) and ``try_downscale``, but not ``try_invert``.

All passes use the default ``LocalAverage`` binarizer: ``GlobalHistogram`` is
faster on noisy photos but lost every small code tried (modules of 2 px and less)
and blurred ones. ``is_pure`` is for generated images, not photos.
``TextMode.Plain`` keeps the GS (0x1D) separators of GS1 content (``HRI`` would
print ``(01)…``), and only valid symbols are kept (no ``return_errors``).

When the quick passes find nothing (or the caller asks for ``thorough``), the
**retry passes** run, each one because it reads something the quick passes miss:

* DataMatrix on the inverted photo (light-on-dark DataMatrix, e.g. laser-marked);
* every format on the photo upscaled 2x (bicubic, which read more than bilinear or
  1.5x), for photos up to :data:`UPSCALE_MAX_PIXELS`: a QR or DataMatrix with
  modules of about 1.5 px is read straight only near axis-aligned, and at nearly
  any angle once upscaled;
* Code 128 on the photo turned by 30 and 60 degrees (bilinear; nearest-neighbour
  turning broke thin bars): the linear reader scans rows (and columns with
  ``try_rotate``), so a bar code is read only within about atan(height/width) of
  level, about 15 degrees for a GS1-128 label.

``symbology`` is passed on as zxing-cpp reports it. Note that zxing-cpp 3.1 adds 6
to the Data Matrix modifier for the rectangular extension sizes (DMRE, e.g. 8x64):
a GS1 DataMatrix printed in such a size reads as ``]d8``, not ``]d2``.

What it does not do: interpret the content (``scanners.identifiers`` parses it) or
check any signature.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Final

import numpy as np
import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

from ledger.errors import InvalidInputError
from scanners.errors import ScannerError

SUPPORTED_FORMATS: Final = ("QRCode", "MicroQRCode", "DataMatrix", "Code128")
MAX_PIXELS: Final = 50_000_000
UPSCALE_MAX_PIXELS: Final = 4_000_000
LINEAR_TILTS_DEGREES: Final = (30.0, 60.0)

_INVERTIBLE_CHEAPLY: Final = frozenset({"QRCode", "MicroQRCode", "Code128"})
_DATA_MATRIX: Final = frozenset({"DataMatrix"})
_LINEAR: Final = frozenset({"Code128"})

Point = tuple[int, int]
ImageSource = Path | str | bytes | Image.Image


@dataclass(frozen=True)
class DecodedSymbol:
    """One symbol read from an image.

    ``text`` is the decoded content; GS1 content keeps its GS (0x1D) separators
    between variable-length AIs. ``symbology`` is the AIM identifier zxing-cpp
    reports (``]Q1``, ``]d2``, ``]C1``), ``format`` its format name (``QRCode``,
    ``MicroQRCode``, ``DataMatrix``, ``Code128``), ``gs1`` whether the content type
    is GS1, and ``position`` the four corners (top-left, top-right, bottom-right,
    bottom-left of the symbol as zxing-cpp orients it) in image pixels.
    """

    text: str
    symbology: str
    format: str
    gs1: bool
    position: tuple[Point, ...]

    @property
    def center(self) -> tuple[float, float]:
        """The mean of the four corners."""
        xs = [x for x, _ in self.position]
        ys = [y for _, y in self.position]
        return sum(xs) / len(xs), sum(ys) / len(ys)

    @property
    def radius(self) -> float:
        """Half the longest distance between two corners."""
        return max(math.dist(a, b) for a in self.position for b in self.position) / 2


class ImageDecodeError(InvalidInputError, ScannerError):
    """The file cannot be read, is not an image, or is too large to decode."""

    code = "image_unreadable"


def decode_image(
    source: ImageSource,
    *,
    formats: Iterable[str] = SUPPORTED_FORMATS,
    thorough: bool = False,
) -> list[DecodedSymbol]:
    """Return every distinct symbol in ``source``, top row first, left to right in a row.

    ``source`` is a file path, the file's bytes, or a Pillow image; EXIF orientation
    is applied first, so positions and order are as a person sees the photo.
    ``formats`` names the symbologies to read (a subset of
    :data:`SUPPORTED_FORMATS`). The retry passes run when the quick ones find
    nothing, or always with ``thorough`` (a pallet photo where one label among many
    may be tiny or tilted). A symbol found by several passes is reported once; the
    same content at two places is reported twice (two labels).

    Raises:
        ImageDecodeError: the file cannot be read, is not an image, or has more
            than :data:`MAX_PIXELS` pixels.
        ValueError: ``formats`` names an unsupported format, or none.
    """
    wanted = _checked_formats(formats)
    gray = _load_grayscale(source)
    found = _run(_QUICK_PASSES, gray, wanted)
    if thorough or not found:
        found = _merged(found, _run(_RETRY_PASSES, gray, wanted))
    return _reading_order(found)


# ---------------------------------------------------------------------------
# Loading


def _load_grayscale(source: ImageSource) -> np.ndarray:
    if isinstance(source, Image.Image):
        return _grayscale(ImageOps.exif_transpose(source))
    if isinstance(source, str | PathLike):
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageDecodeError(
                f"cannot read image file {path}: {exc.strerror or exc}", path=str(path)
            ) from exc
        return _decoded(data, origin=str(path))
    if isinstance(source, bytes | bytearray | memoryview):
        return _decoded(bytes(source), origin="<bytes>")
    raise TypeError(f"decode_image takes a path, bytes or a PIL image, not {type(source).__name__}")


def _decoded(data: bytes, *, origin: str) -> np.ndarray:
    if not data:
        raise ImageDecodeError(f"{origin} is empty, not an image", source=origin)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_size(image, origin)
            ImageOps.exif_transpose(image, in_place=True)  # loads it; ours, so no copy
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(
            f"{origin} is not an image Pillow can read (PNG, JPEG, WebP, TIFF, …)", source=origin
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(
            f"{origin} has too many pixels to decode (more than {MAX_PIXELS})", source=origin
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"{origin} is a corrupt image: {exc}", source=origin) from exc
    return _grayscale(image)


def _check_size(image: Image.Image, origin: str) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageDecodeError(
            f"{origin} has {width}x{height} pixels, more than the {MAX_PIXELS} this decodes",
            source=origin,
            width=width,
            height=height,
        )


def _grayscale(image: Image.Image) -> np.ndarray:
    """8-bit luminance; transparency is composited on white, 16-bit depth scaled, not clipped."""
    if image.mode in {"I;16", "I;16L", "I;16B", "I;16N"}:
        return (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
    if image.mode in {"I", "F"}:
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return np.ascontiguousarray(scaled.round().astype(np.uint8))
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("L"), dtype=np.uint8))


def _checked_formats(formats: Iterable[str]) -> frozenset[str]:
    wanted = frozenset([formats] if isinstance(formats, str) else formats)
    unknown = wanted - set(SUPPORTED_FORMATS)
    if unknown:
        raise ValueError(f"unsupported formats {sorted(unknown)}; supported: {SUPPORTED_FORMATS}")
    if not wanted:
        raise ValueError(f"formats is empty; name some of {SUPPORTED_FORMATS}")
    return wanted


# ---------------------------------------------------------------------------
# Passes: each reads one view of the photo and maps positions back to the photo


@dataclass(frozen=True)
class _View:
    """Pixels to read, and the affine map (x, y) -> (a x + b y + c, d x + e y + f) back."""

    pixels: np.ndarray
    to_source: tuple[float, float, float, float, float, float] = (1, 0, 0, 0, 1, 0)

    def source_point(self, x: int, y: int) -> Point:
        a, b, c, d, e, f = self.to_source
        return round(a * x + b * y + c), round(d * x + e * y + f)


Pass = Callable[[np.ndarray, frozenset[str]], list[DecodedSymbol]]


def _read(
    view: _View, formats: Iterable[str], *, try_invert: bool, try_downscale: bool = True
) -> list[DecodedSymbol]:
    names = sorted(formats)
    if not names:  # an empty list would mean every format to zxing-cpp
        return []
    barcodes = zxingcpp.read_barcodes(
        view.pixels,
        formats=zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat[name] for name in names]),
        try_rotate=True,
        try_downscale=try_downscale,
        try_invert=try_invert,
        text_mode=zxingcpp.TextMode.Plain,
        binarizer=zxingcpp.Binarizer.LocalAverage,
    )
    return [_symbol(barcode, view) for barcode in barcodes if barcode.valid]


def _symbol(barcode: zxingcpp.Barcode, view: _View) -> DecodedSymbol:
    corners = barcode.position
    return DecodedSymbol(
        text=barcode.text,
        symbology=barcode.symbology_identifier,
        format=barcode.format.name,
        gs1=barcode.content_type == zxingcpp.ContentType.GS1,
        position=tuple(
            view.source_point(point.x, point.y)
            for point in (
                corners.top_left,
                corners.top_right,
                corners.bottom_right,
                corners.bottom_left,
            )
        ),
    )


def _quick_invertible(gray: np.ndarray, wanted: frozenset[str]) -> list[DecodedSymbol]:
    return _read(_View(gray), wanted & _INVERTIBLE_CHEAPLY, try_invert=True)


def _quick_data_matrix(gray: np.ndarray, wanted: frozenset[str]) -> list[DecodedSymbol]:
    return _read(_View(gray), wanted & _DATA_MATRIX, try_invert=False)


def _inverted_data_matrix(gray: np.ndarray, wanted: frozenset[str]) -> list[DecodedSymbol]:
    if not wanted & _DATA_MATRIX:
        return []
    return _read(_View(255 - gray), _DATA_MATRIX, try_invert=False)


def _upscaled(gray: np.ndarray, wanted: frozenset[str]) -> list[DecodedSymbol]:
    height, width = gray.shape
    if width * height > UPSCALE_MAX_PIXELS:
        return []
    bigger = Image.fromarray(gray).resize((2 * width, 2 * height), Image.Resampling.BICUBIC)
    # Pillow samples output pixel centre x + 0.5 at input (x + 0.5) / 2.
    view = _View(np.asarray(bigger), (0.5, 0, -0.25, 0, 0.5, -0.25))
    # The photo itself was read already, so its downscaled copies need no second look.
    return _read(view, wanted, try_invert=False, try_downscale=False)


def _tilted_linear(gray: np.ndarray, wanted: frozenset[str]) -> list[DecodedSymbol]:
    if not wanted & _LINEAR:
        return []
    # The corners are filled with the photo's median so they add no edge of their own.
    photo, fill = Image.fromarray(gray), int(np.median(gray))
    found: list[DecodedSymbol] = []
    for degrees in LINEAR_TILTS_DEGREES:
        found += _read(_rotated(photo, degrees, fill), wanted & _LINEAR, try_invert=False)
    return found


def _rotated(photo: Image.Image, degrees: float, fill: int) -> _View:
    """The whole photo turned by ``degrees`` on a canvas that holds all of it."""
    width, height = photo.size
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    out_width = math.ceil(abs(width * cos) + abs(height * sin))
    out_height = math.ceil(abs(width * sin) + abs(height * cos))
    # Rotate about the centres: source = R (view - view centre) + source centre.
    a, b, d, e = cos, -sin, sin, cos
    c = width / 2 - a * out_width / 2 - b * out_height / 2
    f = height / 2 - d * out_width / 2 - e * out_height / 2
    to_source = (a, b, c, d, e, f)
    turned = photo.transform(
        (out_width, out_height),
        Image.Transform.AFFINE,
        to_source,
        resample=Image.Resampling.BILINEAR,
        fillcolor=fill,
    )
    return _View(np.asarray(turned), to_source)


_QUICK_PASSES: Final[Sequence[Pass]] = (_quick_invertible, _quick_data_matrix)
_RETRY_PASSES: Final[Sequence[Pass]] = (_inverted_data_matrix, _upscaled, _tilted_linear)


def _run(passes: Sequence[Pass], gray: np.ndarray, wanted: frozenset[str]) -> list[DecodedSymbol]:
    found: list[DecodedSymbol] = []
    for read in passes:
        found = _merged(found, read(gray, wanted))
    return found


# ---------------------------------------------------------------------------
# Merging and order


def _same_symbol(one: DecodedSymbol, other: DecodedSymbol) -> bool:
    """The same content, format and place (centres closer than the larger half-size)."""
    content = (one.text, one.format, one.symbology)
    close = math.dist(one.center, other.center) <= max(one.radius, other.radius)
    return close and content == (other.text, other.format, other.symbology)


def _merged(found: list[DecodedSymbol], more: Iterable[DecodedSymbol]) -> list[DecodedSymbol]:
    merged = list(found)
    for symbol in more:
        if not any(_same_symbol(symbol, known) for known in merged):
            merged.append(symbol)
    return merged


def _reading_order(symbols: Sequence[DecodedSymbol]) -> list[DecodedSymbol]:
    """Rows top to bottom, left to right in a row.

    Symbols are taken by the height of their centres; one joins the current row
    when it shares a row with any symbol already in it (see :func:`_same_row`).
    """
    rows: list[list[DecodedSymbol]] = []
    for symbol in sorted(symbols, key=lambda s: (s.center[1], s.center[0], s.text)):
        if rows and any(_same_row(symbol, member) for member in rows[-1]):
            rows[-1].append(symbol)
        else:
            rows.append([symbol])
    return [symbol for row in rows for symbol in sorted(row, key=lambda s: (s.center[0], s.text))]


def _same_row(one: DecodedSymbol, other: DecodedSymbol) -> bool:
    """Either centre lies within the other's vertical span.

    Both directions count because a bar code's corners span only the rows that
    were read, which may be a thin strip off its middle.
    """
    return _spans(other, one.center[1]) or _spans(one, other.center[1])


def _spans(symbol: DecodedSymbol, y: float) -> bool:
    ys = [corner_y for _, corner_y in symbol.position]
    return min(ys) <= y <= max(ys)
