"""``parse_scan``: decide what a read is and decode it.

The order of decisions:

1. Undo keyboard-wedge framing (:mod:`~scanners.identifiers.wedge`).
2. Split off an AIM symbology identifier (ISO/IEC 15424, via biip). One found
   later in the text means something was typed before the scan, or two reads
   ran together.
3. A GS1 symbology (``]C1`` GS1-128, ``]e0`` DataBar, ``]d2`` GS1 DataMatrix,
   ``]Q3`` GS1 QR) carries an element string; an EAN/UPC
   or ITF-14 (``]E0``, ``]E4``, ``]I1``) carries a GTIN. Any other symbology
   (``]Q1``, ``]d1``, ``]C0``…) carries plain text: a URL, a trace code or an
   EPC, but not GS1 element strings, which need FNC1. biip 5.2 cannot read the
   DotCode identifier (``]J1``; its ISO symbology table has no ``J``), so a
   GS1 DotCode read is refused as an unsupported symbology.
4. Without an identifier (typed, or a scanner that sends none) the text
   decides: an ISO/IEC 15434 envelope, a URL (our label, else a GS1 Digital
   Link), an EPC URI, bracketed GS1 data, a trace code, EPC hex, a raw element
   string.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from biip import ParseError
from biip.gtin import Gtin
from biip.symbology import GS1Symbology, SymbologyIdentifier

from scanners.identifiers.digital_link import is_uri_like, parse_digital_link
from scanners.identifiers.element_strings import (
    GS,
    gs1_key,
    parse_bracketed,
    parse_element_string,
)
from scanners.identifiers.epc import EpcRead, decode_epc_hex, decode_epc_uri, looks_like_epc_hex
from scanners.identifiers.errors import ScanError
from scanners.identifiers.result import ScanKind, ScanResult
from scanners.identifiers.trace_codes import code_link, looks_like_trace_code, typed_code
from scanners.identifiers.values import Element, checked_element
from scanners.identifiers.wedge import (
    DEFAULT_WEDGE,
    WedgeConfig,
    clean_read,
    gs_to_separator,
    refuse_control_characters,
)

_AIM_IDENTIFIER: Final = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_GS1_DATA_SYMBOLOGIES: Final = GS1Symbology.with_gs1_messages() | {
    GS1Symbology.GS1_COMPOSITE_WITH_SEPARATOR_CHAR,
    GS1Symbology.GS1_COMPOSITE_WITH_ESCAPE_CHAR,
}
_ISO15434_HEADER: Final = "[)>\x1e"
_ISO15434_GS1_FORMAT: Final = "05"
_ISO15434_TRAILER: Final = "\x1e"
_HTTP_SCHEMES: Final = ("http", "https")


def parse_scan(text: str, config: WedgeConfig = DEFAULT_WEDGE) -> ScanResult:
    """Decode one scanner read (or typed text) into typed identifiers.

    Raises:
        ScanError: the read is not a valid identifier; ``code`` says why.
    """
    cleaned = clean_read(text, config)
    symbology, content = _split_symbology(cleaned)
    if symbology is None:
        return _by_content(text, content, config)
    if symbology.gs1_symbology in _GS1_DATA_SYMBOLOGIES:
        if is_uri_like(content):
            raise ScanError(
                "symbology_mismatch",
                f"a {symbology.value} symbol carries GS1 element strings, not a URL; "
                "a Digital Link is printed in a plain QR (]Q1) or Data Matrix (]d1)",
                symbology=symbology.value,
            )
        # camera decoders (zxing-cpp's default text mode) hand GS1 data over bracketed
        elements = (
            parse_bracketed(content)
            if content.startswith("(")
            else _element_string(content, config)
        )
        return _gs1(text, symbology.value, "gs1_element_string", elements)
    if symbology.gs1_symbology in GS1Symbology.with_gtin():
        return _gs1(text, symbology.value, "gs1_element_string", (_gtin_element(content),))
    return _plain_text(text, symbology.value, content)


def _split_symbology(text: str) -> tuple[SymbologyIdentifier | None, str]:
    symbology: SymbologyIdentifier | None = None
    content = text
    if text.startswith("]"):
        try:
            symbology = SymbologyIdentifier.extract(text)
        except (ParseError, IndexError, ValueError) as exc:
            raise ScanError(
                "unsupported_symbology",
                f"{text[:3]!r} is not an AIM symbology identifier we know",
                identifier=text[:3],
            ) from exc
        content = text[len(symbology) :]
    later = _AIM_IDENTIFIER.search(content)
    if later is not None:
        if symbology is not None:
            raise ScanError(
                "multiple_reads",
                f"a second symbology identifier {later.group()!r} at character "
                f"{len(symbology) + later.start() + 1}: two reads ran together; scan again",
            )
        before = content[: later.start()]
        raise ScanError(
            "stray_text",
            f"{len(before)} characters ({before[:20]!r}) come before the symbology identifier "
            f"{later.group()!r}: something was typed before the scan, or the scanner has a "
            "prefix this reader was not told about",
            identifier=later.group(),
            position=later.start() + 1,
        )
    if not content:
        raise ScanError("empty_scan", "the scan holds a symbology identifier and nothing else")
    return symbology, content


def _by_content(raw: str, content: str, config: WedgeConfig) -> ScanResult:
    if content.startswith(_ISO15434_HEADER):
        return _gs1(raw, None, "gs1_element_string", _iso15434(content, config))
    if is_uri_like(content) or content.lower().startswith("urn:epc:"):
        return _plain_text(raw, None, content)
    if content.startswith("("):
        refuse_control_characters(content)
        return _gs1(raw, None, "gs1_element_string", parse_bracketed(content))
    if looks_like_trace_code(content):
        refuse_control_characters(content)
        return ScanResult("trace_code", raw, None, trace_code=typed_code(content))
    if looks_like_epc_hex(content):
        return _epc_or_element_string(raw, content, config)
    if content[0].isdigit() or content[0] == GS or content.startswith("^"):
        return _gs1(raw, None, "gs1_element_string", _element_string(content, config))
    if _looks_like_half_a_url(content):
        raise ScanError(
            "truncated_read",
            f"{content[:30]!r} looks like a URL without its start (https://): "
            "the read is cut short; scan again",
        )
    raise ScanError(
        "unrecognised",
        "not a trace code, label URL, GS1 element string, GS1 Digital Link or RFID EPC",
    )


def _epc_or_element_string(raw: str, content: str, config: WedgeConfig) -> ScanResult:
    """Hex with an EPC header is an EPC, unless it is all digits: then GS1 data is likelier
    (``400ABC…`` is an order number that happens to be hex too). The likelier reading's
    error is the one reported."""

    def as_epc() -> ScanResult:
        return _epc(raw, None, decode_epc_hex(content))

    def as_gs1() -> ScanResult:
        return _gs1(raw, None, "gs1_element_string", _element_string(content, config))

    readings = [as_gs1, as_epc] if content.isdigit() else [as_epc, as_gs1]
    errors: list[ScanError] = []
    for reading in readings:
        try:
            return reading()
        except ScanError as exc:
            errors.append(exc)
    raise errors[0]


def _plain_text(raw: str, symbology: str | None, content: str) -> ScanResult:
    refuse_control_characters(content, allowed=GS)  # a GS here is GS1 data in the wrong symbol
    if content.lower().startswith("urn:epc:"):
        return _epc(raw, symbology, decode_epc_uri(content))
    if is_uri_like(content):
        return _url(raw, symbology, content)
    if looks_like_trace_code(content):
        return ScanResult("trace_code", raw, symbology, trace_code=typed_code(content))
    if looks_like_epc_hex(content):
        return _epc(raw, symbology, decode_epc_hex(content))
    if content[0].isdigit() or content[0] == "(":
        raise ScanError(
            "symbology_mismatch",
            f"this {symbology} symbol holds plain text that looks like GS1 AIs; GS1 data needs "
            "a GS1 symbol (FNC1 first: ]d2, ]Q3, ]C1): the label was printed as a plain symbol",
            symbology=symbology,
        )
    raise ScanError(
        "unrecognised",
        f"the {symbology} symbol holds text that is not a trace code, label URL, "
        "Digital Link or EPC",
        symbology=symbology,
    )


def _url(raw: str, symbology: str | None, url: str) -> ScanResult:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _HTTP_SCHEMES:
        if "https".endswith(scheme):
            raise ScanError(
                "truncated_read",
                f"the URL starts {scheme + '://'!r}: its start is cut off; scan again",
            )
        raise ScanError("invalid_uri", f"a {scheme}: URL is not a label or a Digital Link")
    link = code_link(url)
    if link is not None:
        kind: ScanKind = "trace_code" if link.label is None else "label_url"
        return ScanResult(kind, raw, symbology, trace_code=link.code, label=link.label)
    parsed = parse_digital_link(url)
    return _gs1(raw, symbology, "gs1_digital_link", parsed.elements)


def _element_string(content: str, config: WedgeConfig) -> tuple[Element, ...]:
    data = gs_to_separator(content, config)
    refuse_control_characters(data, allowed=GS)
    return parse_element_string(data)


def _gtin_element(content: str) -> Element:
    try:
        gtin = Gtin.parse(content)
    except ParseError as exc:
        code = "bad_check_digit" if "check digit" in str(exc).lower() else "bad_value"
        raise ScanError(code, f"not a valid GTIN: {exc}") from exc
    return checked_element("01", gtin.as_gtin_14())


def _iso15434(content: str, config: WedgeConfig) -> tuple[Element, ...]:
    """Unwrap an ISO/IEC 15434 envelope ``[)>RS05GS…RS EOT``; only format 05 (GS1 AIs) is ours."""
    body = content[len(_ISO15434_HEADER) :]
    form = body[:2]
    if form != _ISO15434_GS1_FORMAT:
        raise ScanError(
            "unsupported_format",
            f"ISO/IEC 15434 format {form!r} is not GS1 data (only format 05 holds GS1 AIs)",
            format=form,
        )
    payload = body[2:].removesuffix("\x04").removesuffix(_ISO15434_TRAILER)
    return _element_string(payload, config)


def _looks_like_half_a_url(content: str) -> bool:
    host = content.split("/", 1)[0]
    return "/" in content and "." in host and " " not in host


def _gs1(
    raw: str,
    symbology: str | None,
    kind: Literal["gs1_element_string", "gs1_digital_link"],
    elements: tuple[Element, ...],
) -> ScanResult:
    return ScanResult(
        kind,
        raw,
        symbology,
        elements=elements,
        gs1_key=gs1_key(elements),
    )


def _epc(raw: str, symbology: str | None, read: EpcRead) -> ScanResult:
    return ScanResult(
        "epc",
        raw,
        symbology,
        elements=read.elements,
        gs1_key=gs1_key(read.elements),
        epc=read.identity,
    )
