"""What a scan decodes to: :class:`ScanResult`, and its JSON form for ``chemtrace scan parse``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from biip import ParseError
from biip.gs1_element_strings import GS1ElementString

from ledger.codes import SignedCode
from scanners.identifiers.ai_table import DATE_FIELDS, is_dl_key
from scanners.identifiers.digital_link import to_digital_link
from scanners.identifiers.element_strings import to_bracketed
from scanners.identifiers.epc import EpcIdentity
from scanners.identifiers.errors import ScanError
from scanners.identifiers.values import Element

ScanKind = Literal["trace_code", "label_url", "gs1_element_string", "gs1_digital_link", "epc"]
_SINGLE_DATE_AIS: Final = frozenset(ai for ai, fields in DATE_FIELDS.items() if len(fields) == 1)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Every identifier found in one scan.

    ``trace_code`` is set for our own code (typed, or from a label URL, whose
    signed facts are in ``label``: not yet verified). ``elements`` holds the GS1
    data in order, from an element string, a Digital Link, or an EPC's GS1
    equivalent. ``gs1_key`` is the item key as the registry stores it
    (``CodeFacts.gs1_key``), when the GS1 data names one item.
    """

    kind: ScanKind
    raw: str
    """The input exactly as given."""
    symbology: str | None
    """The AIM symbology identifier the read started with (``]d2``), if any."""
    trace_code: str | None = None
    label: SignedCode | None = None
    elements: tuple[Element, ...] = ()
    gs1_key: str | None = None
    epc: EpcIdentity | None = None

    @property
    def ais(self) -> dict[str, str]:
        """AI to value (an AI repeated in the data has one value)."""
        return {element.ai: element.value for element in self.elements}

    @property
    def digital_link(self) -> str | None:
        """The canonical ``https://id.gs1.org`` Digital Link of the GS1 data, when it has one."""
        if not any(is_dl_key(element.ai) for element in self.elements):
            return None
        try:
            return to_digital_link(self.elements)
        except ScanError:
            return None  # GS1 data that a Digital Link cannot carry (e.g. AI 8200)

    def to_json(self) -> dict[str, object]:
        """The ``chemtrace scan parse`` document."""
        return {
            "kind": self.kind,
            "raw": self.raw,
            "symbology": self.symbology,
            "trace_code": self.trace_code,
            "label": None if self.label is None else self.label.to_json(),
            "ais": self.ais,
            "elements": [_element_json(element) for element in self.elements],
            "hri": to_bracketed(self.elements) if self.elements else None,
            "gs1_key": self.gs1_key,
            "digital_link": self.digital_link,
            "epc": None if self.epc is None else _epc_json(self.epc),
        }


def _element_json(element: Element) -> dict[str, object]:
    shown: dict[str, object] = {"ai": element.ai, "title": element.title, "value": element.value}
    if element.ai in _SINGLE_DATE_AIS:
        try:  # biip reads the century (GS1's sliding window) and day 00 (the month's last day)
            parsed = GS1ElementString.parse(element.ai + element.value)
        except ParseError:  # pragma: no cover - the value was checked when it was read
            return shown
        if parsed.date is not None:
            shown["date"] = parsed.date.isoformat()
    return shown


def _epc_json(epc: EpcIdentity) -> dict[str, object]:
    return {
        "scheme": epc.scheme,
        "uri": epc.uri,
        "tag_uri": epc.tag_uri,
        "hex": epc.hex,
        "filter": epc.filter_value,
    }
