"""Typed identifiers from anything a scanner may emit.

:func:`parse_scan` takes one read, as a keyboard-wedge scanner types it, a camera
decoder returns it (AIM symbology identifier + content) or a person types it,
and returns a :class:`ScanResult`, or raises :class:`ScanError` with a stable
``code`` and a plain-English reason. It reads:

* our trace code (``CT-7K3MQ-9XA2B-4FHCN``) and our QR label URL;
* GS1 element strings: raw with GS separators (or a scanner's substitute for
  GS), behind an AIM identifier (``]C1``, ``]e0``, ``]d2``, ``]Q3``), in
  bracketed form ``(01)…(21)…``, or in an ISO/IEC 15434 format-05 envelope;
* GS1 Digital Link URIs, held to the reference engine's strictness;
* RFID EPCs: EPC-bank hex (SGTIN-96, GRAI-96, SSCC-96 and the other TDS
  schemes epcpy knows), pure-identity and tag URIs.

Each module has one job: :mod:`.wedge` (keyboard quirks), :mod:`.ai_table`
(AI metadata), :mod:`.values` (one value's checks), :mod:`.element_strings`,
:mod:`.digital_link`, :mod:`.epc`, :mod:`.trace_codes`, :mod:`.scan` (deciding
what a read is) and :mod:`.result`. Nothing here does I/O or needs a server.
"""

from scanners.identifiers.digital_link import (
    DigitalLink,
    DigitalLinkOptions,
    parse_digital_link,
    to_digital_link,
)
from scanners.identifiers.element_strings import (
    gs1_key,
    parse_bracketed,
    parse_element_string,
    to_bracketed,
    to_element_string,
)
from scanners.identifiers.epc import EpcIdentity
from scanners.identifiers.errors import SCAN_ERROR_CODES, ScanError
from scanners.identifiers.result import ScanKind, ScanResult
from scanners.identifiers.scan import parse_scan
from scanners.identifiers.values import Element
from scanners.identifiers.wedge import DEFAULT_GS_SUBSTITUTES, WedgeConfig

__all__ = [
    "DEFAULT_GS_SUBSTITUTES",
    "SCAN_ERROR_CODES",
    "DigitalLink",
    "DigitalLinkOptions",
    "Element",
    "EpcIdentity",
    "ScanError",
    "ScanKind",
    "ScanResult",
    "WedgeConfig",
    "gs1_key",
    "parse_bracketed",
    "parse_digital_link",
    "parse_element_string",
    "parse_scan",
    "to_bracketed",
    "to_digital_link",
    "to_element_string",
]
