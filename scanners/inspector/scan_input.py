"""What the inspector scanned: a label URL (with its signature), a typed code, or a GS1 key.

Scanned text is read by :func:`scanners.identifiers.parse_scan` when that module is
installed (it accepts everything a scanner emits: AIM prefixes, GS1 element strings,
Digital Links, EPCs); otherwise by :mod:`ledger.codes` alone, which reads our label
URL and typed codes, plus a bracketed GS1 key such as ``(01)09506000134352(21)ABC``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from ledger.codes import SignedCode, normalise_code, parse_label_url
from ledger.errors import LedgerError

ScanKind = Literal["label", "code", "gs1"]
_GS1_KEY: Final = re.compile(r"\((00|01|8003)\)[!-~]{1,100}")


class UnreadableScanError(Exception):
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
        from scanners.identifiers import parse_scan
    except ImportError:
        return _read_with_codes(text)
    try:
        parsed = parse_scan(text)
    except LedgerError as exc:
        raise UnreadableScanError(f"cannot read this scan: {exc.message}") from exc
    label = parsed.label
    if label is not None:
        return Scan(text, "label", label.code, label=label, gs1_key=parsed.gs1_key)
    if parsed.trace_code is not None:
        return Scan(text, "code", parsed.trace_code, gs1_key=parsed.gs1_key)
    if parsed.gs1_key is not None:
        return Scan(text, "gs1", None, gs1_key=parsed.gs1_key)
    raise UnreadableScanError(
        f"this scan ({parsed.kind}) names neither a trace code nor a GS1 key to look up"
    )


def _read_with_codes(text: str) -> Scan:
    stripped = text.strip()
    try:
        if "/C/" in stripped.upper():
            label = parse_label_url(stripped)
            return Scan(text, "label", label.code, label=label)
        if _GS1_KEY.fullmatch(stripped):
            return Scan(text, "gs1", None, gs1_key=stripped)
        return Scan(text, "code", normalise_code(stripped))
    except LedgerError as exc:
        raise UnreadableScanError(f"cannot read this scan: {exc.message}") from exc
