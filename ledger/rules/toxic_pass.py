"""``transport.toxic_pass_missing``: 剧毒 goods on the road without a pass (R-TOX-7). Pure.

Source: 危险化学品安全管理条例 (Decree 591/645) Art. 50 [article number from recollection,
domain-rules §2.2]: road transport of highly toxic chemicals needs a 剧毒化学品道路运输
通行证 issued by the public security organ of the destination county, applied for by the
consignor (托运人), stating the goods, quantity, route and period. A ship of any item of a
``shipping.pass_categories`` chemical needs, at the ship's time, a ``transport_permit``
record (``shipping.pass_kinds``) of the consignor or the carrier that:

- is not revoked, and whose ``[valid_from, valid_until)`` covers the ship's signed time;
- covers the chemical (seq, form code, ``class:`` or ``all``);
- names the consignee as its counterparty, when it names one (the destination);
- allows at least the shipped mass of that chemical, when it states a quantity. Permit
  quantities are kilograms; a shipment whose mass cannot be known (pieces) is not judged
  against a quantity.

One finding per (shipment, chemical), with the reasons no pass qualified.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ledger.events import Ship
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import ChemicalFacts, Chemistry, covers_chemical, in_window


def on_ship(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Ship)
    wanted = st.config.shipping.pass_categories
    shipped: dict[str, tuple[ChemicalFacts, Decimal | None, str]] = {}
    for link in body.items:
        chem = ev.chemicals.get(link.code)
        if chem is None or not chem.in_any(wanted):
            continue
        state = ev.before[link.code]
        kg = None
        if state.quantity is not None and state.unit is not None:
            kg = Chemistry.kilograms(state.quantity, state.unit, chem)
        _, total, first = shipped.get(chem.seq, (chem, Decimal(0), link.code))
        shipped[chem.seq] = (chem, None if kg is None or total is None else total + kg, first)
    for seq, (chem, kg, item) in sorted(shipped.items()):
        reasons = _why_not(st, ev, chem, kg)
        if reasons is None:
            continue
        amount = "" if kg is None else f" ({kg.normalize():f} kg)"
        yield st.finding(
            "transport.toxic_pass_missing", f"{ev.hash}:{seq}", body.time,
            f"{body.org} shipped highly toxic {chem.name}{amount} to {body.data.consignee} "
            f"by road without a valid road transport pass: {reasons}",
            (ev.hash,), org=body.org, site=body.site, item=item, chemical=seq,
        )  # fmt: skip


def _why_not(st: RuleState, ev: EventView, chem: ChemicalFacts, kg: Decimal | None) -> str | None:
    """``None`` if a pass covers the shipment; else why none of the candidates does."""
    body = ev.body
    assert isinstance(body, Ship)
    kinds, registry = set(st.config.shipping.pass_kinds), st.registry
    reasons: list[str] = []
    for org in dict.fromkeys((body.org, body.data.carrier)):
        for permit_id in registry.permits_by_org.get(org, ()):
            attrs = registry.records[("permit", permit_id)].attrs
            if attrs["kind"] not in kinds or not covers_chemical(attrs["chemicals"], chem):
                continue
            number, limit = attrs["number"], attrs.get("quantity")
            if attrs["status"] == "revoked":
                reasons.append(f"pass {number} is revoked")
            elif not in_window(attrs, ev.time):
                reasons.append(f"pass {number} is not valid at the ship time")
            elif attrs.get("counterparty") not in (None, body.data.consignee):
                reasons.append(f"pass {number} is for delivery to {attrs['counterparty']}")
            elif limit is not None and kg is not None and kg > Decimal(str(limit)):
                reasons.append(f"pass {number} allows {limit} kg")
            else:
                return None
    return "; ".join(reasons) or "none is registered"
