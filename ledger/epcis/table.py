"""The one reviewed mapping table between chemtrace's event types and EPCIS 2.0 / CBV 2.0.

``docs/epcis-mapping.md`` is this table in prose; ``tests/ledger/epcis/test_table.py`` checks
the two agree. Where CBV 2.0 has a business step for a chemtrace event, it is used; where it
has none (decanting, blending, diluting, filling, consuming, returning, disposing, reporting a
loss, recovering), the step is a private URI under ``urn:chemtrace:bizstep:``, as EPCIS 2.0
§7.3.5 allows for steps outside the CBV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ledger.epcis.vocabulary import Vocabulary

NAMESPACE: Final = "https://ns.chemtrace.example/epcis/"
"""The ``chemtrace:`` JSON-LD prefix: facts that have no EPCIS counterpart travel under it."""
PREFIX: Final = "chemtrace"
PRIVATE_STEP: Final = "urn:chemtrace:bizstep:"


@dataclass(frozen=True, slots=True)
class Signature:
    """How one chemtrace event type (and variant) appears in EPCIS."""

    native: str
    variant: str | None
    """``data.kind`` of a transform, ``data.outcome`` of an inspection, ``data.kind`` of a loss."""
    event_type: str
    action: str | None
    biz_step: str
    """A bare CBV 2.0 term, or a private ``urn:chemtrace:bizstep:`` URI."""
    disposition: str | None

    @property
    def biz_step_uri(self) -> str:
        return Vocabulary.BIZ_STEP.expand(self.biz_step)


def _s(
    native: str,
    event_type: str,
    action: str | None,
    step: str,
    disposition: str | None = None,
    variant: str | None = None,
) -> Signature:
    return Signature(native, variant, event_type, action, step, disposition)


_O, _A, _T = "ObjectEvent", "AggregationEvent", "TransformationEvent"
SIGNATURES: Final = (
    _s("commission", _O, "ADD", "commissioning", "active"),
    _s("transform", _T, None, PRIVATE_STEP + "decanting", variant="decant"),
    _s("transform", _T, None, PRIVATE_STEP + "blending", variant="blend"),
    _s("transform", _T, None, "repackaging", variant="repack"),
    _s("transform", _T, None, PRIVATE_STEP + "diluting", variant="dilute"),
    _s("fill", _T, None, PRIVATE_STEP + "filling"),
    _s("aggregate", _A, "ADD", "packing"),
    _s("disaggregate", _A, "DELETE", "unpacking"),
    _s("store_in", _O, "OBSERVE", "storing"),
    _s("store_out", _O, "OBSERVE", "picking"),
    _s("stock_count", _O, "OBSERVE", "cycle_counting"),
    _s("sell", _O, "OBSERVE", "retail_selling"),
    _s("buy", _O, "OBSERVE", "accepting"),
    _s("ship", _O, "OBSERVE", "shipping", "in_transit"),
    _s("waypoint", _O, "OBSERVE", "transporting", "in_transit"),
    _s("receive", _O, "OBSERVE", "receiving", "in_progress"),
    _s("use", _O, "OBSERVE", PRIVATE_STEP + "consuming"),
    _s("return", _O, "OBSERVE", PRIVATE_STEP + "returning", "returned"),
    _s("inspect", _O, "OBSERVE", "inspecting", "conformant", variant="pass"),
    _s("inspect", _O, "OBSERVE", "inspecting", "non_conformant", variant="fail"),
    _s("inspect", _O, "OBSERVE", "inspecting", None, variant="observation"),
    _s("dispose", _O, "OBSERVE", PRIVATE_STEP + "disposing", "disposed"),
    _s("destroy", _O, "DELETE", "destroying", "destroyed"),
    _s("report_loss", _O, "OBSERVE", PRIVATE_STEP + "reporting_loss", "stolen", variant="theft"),
    _s("report_loss", _O, "OBSERVE", PRIVATE_STEP + "reporting_loss", None, variant="loss"),
    _s("recover", _O, "OBSERVE", PRIVATE_STEP + "recovering"),
)
"""Every native type but ``correct``, which is an ``errorDeclaration`` on the corrected event."""

VARIANT_FIELD: Final = {"transform": "kind", "inspect": "outcome", "report_loss": "kind"}


def signature_of(native: str, variant: str | None) -> Signature:
    for signature in SIGNATURES:
        if signature.native == native and signature.variant == variant:
            return signature
    raise KeyError((native, variant))


def signatures_for(event_type: str, action: str | None, biz_step_uri: str) -> list[Signature]:
    """The chemtrace readings of an EPCIS (type, action, bizStep); the disposition picks one."""
    return [
        s
        for s in SIGNATURES
        if s.event_type == event_type and s.action == action and s.biz_step_uri == biz_step_uri
    ]


UNITS: Final = {
    "kg": "KGM",
    "g": "GRM",
    "t": "TNE",
    "L": "LTR",
    "mL": "MLT",
    "m3": "MTQ",
    "Nm3": "NM3",
}
"""Native units to UN/CEFACT Recommendation 20 codes. ``piece`` is a quantity without ``uom``:
EPCIS 2.0 §7.3.3.3 reads an omitted uom as a count of instances (Rec 20 ``H87`` is read as
``piece`` too)."""
UNITS_BACK: Final = {**{code: unit for unit, code in UNITS.items()}, "H87": "piece"}

BIZ_TRANSACTIONS: Final = {
    "ship": ("waybill_no", "bol"),
    "sell": ("contract_no", "po"),
    "buy": ("contract_no", "po"),
}
"""The document numbers that are CBV business transactions: a waybill is a bill of lading
(``bol``), a sales contract a purchase order (``po``)."""

ERROR_REASONS: Final = frozenset({"did_not_occur", "incorrect_data"})
