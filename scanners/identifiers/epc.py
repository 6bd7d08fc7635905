"""RFID EPCs: EPC-bank hex, pure-identity URIs and tag URIs, decoded with epcpy.

Where epcpy fell short:

* ``hex_to_tag_encodable`` decodes the filter value and binary coding scheme
  and then throws them away, so the decoded object cannot say its own tag URI
  (``tag_uri()`` demands both back). :func:`decode_epc_hex` recovers them by
  re-encoding: the one (scheme, filter) whose encoding gives back the input's
  bits is the tag's, and if none does, the bits are not a canonical encoding;
* it ignores data after the EPC (``…1A85FF`` decodes as ``…1A85``), which we
  refuse, and says "Invalid binary size" for a short read, which we report as
  truncated, with the expected length.

The GS1 element string of a GS1-keyed EPC (``(01)…(21)…`` for an SGTIN) is
checked like any scanned element string, check digits included.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final

from epcpy.epc_schemes.base_scheme import EPCScheme, GS1Element, TagEncodable
from epcpy.utils.common import ConvertException
from epcpy.utils.parsers import (
    TAG_ENCODABLE_HEX_HEADERS,
    epc_pure_identity_to_scheme,
    hex_to_tag_encodable,
    tag_uri_to_tag_encodable,
)

from scanners.identifiers.element_strings import parse_bracketed
from scanners.identifiers.errors import ScanError
from scanners.identifiers.values import Element

_HEX: Final = re.compile(r"[0-9A-Fa-f]+")
_WORD_BITS: Final = 16
_MIN_HEX_DIGITS: Final = 8
"""Shorter than this, hex is not worth reading as an EPC, even a truncated one."""
_DECODE_FAILURES: Final = (ConvertException, ValueError, KeyError, IndexError, TypeError)


@dataclass(frozen=True, slots=True)
class EpcIdentity:
    """An EPC as RFID systems name it."""

    scheme: str
    """The binary coding scheme (``sgtin-96``), or the identity scheme (``sgtin``) for a
    pure-identity URI, which names no encoding."""
    uri: str
    """The pure-identity URI, ``urn:epc:id:sgtin:0614141.812345.6789``."""
    tag_uri: str | None
    """The tag URI with filter value, ``urn:epc:tag:sgtin-96:3.0614141.812345.6789``."""
    hex: str | None
    """The EPC bank in upper-case hex."""
    filter_value: int | None


@dataclass(frozen=True, slots=True)
class EpcRead:
    """A decoded EPC and its GS1 element string, if its scheme has one."""

    identity: EpcIdentity
    elements: tuple[Element, ...]


def looks_like_epc_hex(text: str) -> bool:
    """Whether ``text`` is hex that starts with a known EPC binary header."""
    return (
        len(text) >= _MIN_HEX_DIGITS
        and _HEX.fullmatch(text) is not None
        and text[:2].upper() in TAG_ENCODABLE_HEX_HEADERS
    )


def decode_epc_hex(text: str) -> EpcRead:
    """Decode the EPC bank read as hex (``3074257BF7194E4000001A85``).

    Raises:
        ScanError: ``truncated_read`` when shorter than its scheme, ``invalid_epc``
            when not hex, of an unknown header, longer than its scheme, or not a
            canonical encoding.
    """
    digits = text.upper()
    if not _HEX.fullmatch(digits):
        raise ScanError("invalid_epc", "an EPC read is hexadecimal digits only")
    cls = TAG_ENCODABLE_HEX_HEADERS.get(digits[:2])
    if cls is None:
        raise ScanError(
            "invalid_epc", f"header 0x{digits[:2]} is not an EPC binary scheme", header=digits[:2]
        )
    coding = _coding_scheme(cls, digits)
    _check_length(coding.value, digits)
    try:
        tag = hex_to_tag_encodable(digits)
    except _DECODE_FAILURES as exc:
        raise ScanError("invalid_epc", f"the {coding.value} EPC does not decode: {exc}") from exc
    for arguments in _encodings(tag, coding):
        try:
            encoded = tag.hex(**arguments)
        except _DECODE_FAILURES:
            continue
        if encoded == digits:
            return _read(tag, coding.value, tag.tag_uri(**arguments), digits, arguments)
    raise ScanError(
        "invalid_epc",
        f"the bits decode as {tag.epc_uri} but are not a canonical {coding.value} encoding",
        uri=tag.epc_uri,
    )


def _coding_scheme(cls: type[TagEncodable], digits: str) -> Enum:
    header_bits = format(int(digits[:2], 16), "08b")
    return cls.header_to_schemes()[header_bits]


def _check_length(coding: str, digits: str) -> None:
    size = coding.rsplit("-", 1)[-1]
    if not size.isdigit():
        return  # variable-length schemes: the re-encoding check decides
    expected = -(-int(size) // _WORD_BITS) * _WORD_BITS // 4
    if len(digits) < expected:
        raise ScanError(
            "truncated_read",
            f"{coding.upper()} EPCs are {expected} hex digits; this read has {len(digits)}: "
            "it looks cut short; read the tag again",
            expected=expected,
            found=len(digits),
        )
    if len(digits) > expected:
        raise ScanError(
            "invalid_epc",
            f"{coding.upper()} EPCs are {expected} hex digits; this read has {len(digits)} "
            "(data after the EPC)",
            expected=expected,
            found=len(digits),
        )


def _filter_enum(tag: TagEncodable) -> type[Enum] | None:
    """The scheme's filter-value enum, named by ``tag_uri``'s (string) annotation."""
    parameter = inspect.signature(type(tag).tag_uri).parameters.get("filter_value")
    if parameter is None:
        return None
    annotation = parameter.annotation
    if isinstance(annotation, str):
        annotation = vars(sys.modules[type(tag).__module__]).get(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, Enum) else None


def _encodings(tag: TagEncodable, coding: Enum) -> Iterator[dict[str, object]]:
    """Every (coding scheme, filter value) argument set the tag's ``hex()`` accepts."""
    parameters = inspect.signature(tag.tag_uri).parameters
    base: dict[str, object] = {}
    if "binary_coding_scheme" in parameters:
        base["binary_coding_scheme"] = coding
    filters = _filter_enum(tag)
    if filters is None:
        yield base
        return
    for value in filters:
        yield {**base, "filter_value": value}


def _read(
    tag: EPCScheme,
    scheme: str,
    tag_uri: str | None,
    digits: str | None,
    arguments: dict[str, object],
) -> EpcRead:
    chosen = arguments.get("filter_value")
    filter_value = int(chosen.value) if isinstance(chosen, Enum) else None
    identity = EpcIdentity(scheme, tag.epc_uri, tag_uri, digits, filter_value)
    return EpcRead(identity, _gs1_elements(tag))


def _gs1_elements(tag: EPCScheme) -> tuple[Element, ...]:
    if not isinstance(tag, GS1Element):
        return ()
    try:
        bracketed = tag.gs1_element_string()
    except _DECODE_FAILURES as exc:
        raise ScanError(
            "invalid_epc", f"{tag.epc_uri} has no valid GS1 element string: {exc}"
        ) from exc
    return parse_bracketed(bracketed)


def decode_epc_uri(text: str) -> EpcRead:
    """Decode a pure-identity URI (``urn:epc:id:…``) or a tag URI (``urn:epc:tag:…``).

    Raises:
        ScanError: ``invalid_epc`` when epcpy cannot parse it.
    """
    try:
        if text.startswith("urn:epc:tag:"):
            tag = tag_uri_to_tag_encodable(text)
            coding_name, _, rest = text.removeprefix("urn:epc:tag:").partition(":")
            coding = next(c for c in type(tag).BinaryCodingScheme if c.value == coding_name)
            arguments = _tag_uri_arguments(tag, coding, rest)
            return _read(
                tag, coding_name, tag.tag_uri(**arguments), tag.hex(**arguments), arguments
            )
        scheme = epc_pure_identity_to_scheme(text)
    except (*_DECODE_FAILURES, StopIteration) as exc:
        raise ScanError("invalid_epc", f"not a valid EPC URI: {exc}", uri=text[:120]) from exc
    return _read(scheme, text.split(":")[3], None, None, {})


def _tag_uri_arguments(tag: TagEncodable, coding: Enum, rest: str) -> dict[str, object]:
    for arguments in _encodings(tag, coding):
        chosen = arguments.get("filter_value")
        if chosen is None or (isinstance(chosen, Enum) and rest.startswith(f"{chosen.value}.")):
            return arguments
    raise ValueError(f"unknown filter value in {rest!r}")
