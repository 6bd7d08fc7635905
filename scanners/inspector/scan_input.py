"""What the inspector scanned: a label URL (with its signature), a typed code, or a GS1 key.

Scanner output is read by :func:`scanners.identifiers.parse_scan`, which accepts
everything a scanner emits (AIM prefixes, our label URL and codes, GS1 element strings
raw or bracketed, Digital Links, RFID EPCs). A camera read is passed as its AIM
symbology identifier followed by the content (``]Q1HTTPS://…``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ledger.codes import SignedCode
from scanners.errors import ScannerError
from scanners.identifiers import ScanError, parse_scan

ScanKind = Literal["label", "code", "gs1"]


class UnreadableScanError(ScannerError):
    """The scanned text is not a code, a label or a GS1 key the kit can look up."""


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan, read but not yet verified."""

    text: str
    kind: ScanKind
    code: str | None
    """The trace code, when the scan names one (a GS1 key is looked up in the bundles)."""
    label: SignedCode | None = None
    """The label's signed facts from the QR; checked against the pinned root key."""
    gs1_key: str | None = None

    def describe(self) -> str:
        """What was scanned, for people."""
        if self.kind == "label":
            return "a chemtrace label (QR)"
        if self.kind == "gs1":
            return f"the GS1 key {self.gs1_key}"
        return "a typed trace code"


def read_scan(text: str) -> Scan:
    """Read scanner output into a :class:`Scan`.

    Raises:
        UnreadableScanError: with the reason, in plain words.
    """
    try:
        parsed = parse_scan(text)
    except ScanError as exc:
        raise UnreadableScanError(f"cannot read this scan: {exc.message}") from exc
    if parsed.label is not None:
        return Scan(text, "label", parsed.label.code, label=parsed.label)
    if parsed.trace_code is not None:
        return Scan(text, "code", parsed.trace_code)
    if parsed.gs1_key is not None:
        return Scan(text, "gs1", None, gs1_key=parsed.gs1_key)
    raise UnreadableScanError(
        f"cannot read this scan: it is GS1 data ({parsed.kind}) without a key that names "
        "one item (GTIN with serial, GRAI or SSCC)"
    )
