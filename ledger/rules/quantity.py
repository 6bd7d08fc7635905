"""A logged quantity the ledger cannot weigh. Pure.

Ingest refuses a quantity its form cannot convert to kilograms (``unit_not_convertible``),
but a ledger also holds events accepted before that check, or whose item's chemical was
not known at ingest. Such a quantity moves no item's balance (the fold leaves the item as
it was), so every mass rule would silently skip it; this rule says so instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import Chemistry
from ledger.units import event_quantities

RULE = "quantity.unit_unknown"


def check(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    """``quantity.unit_unknown``: a quantity in a unit its item's form has no conversion for.

    Source: Regulations on the Safe Management of Hazardous Chemicals (State Council
    Decree 591, 2013 rev.) Art. 25 (storage in/out verified and registered) and Art. 41
    (product, quantity and flow recorded and filed); R-TOX-6 (quantities and flows of
    剧毒/易制爆 kept, any loss reported); MPS Order 154 Art. 6 (易制爆 tracking records flow
    and volume); domain-rules §2. A quantity the ledger cannot weigh defeats all of them.
    """
    body = ev.body
    for codes, quantity in event_quantities(body):
        value = Decimal(quantity.value)
        for code in codes:
            chem = ev.chemicals.get(code)
            if Chemistry.kilograms(value, quantity.unit, chem) is not None:
                continue
            form = chem.code if chem else (ev.after.get(code) or ev.before[code]).chemical
            why = (
                chem.measure.reasons.get(quantity.unit, "no conversion")
                if chem
                else "the item's chemical is not known"
            )
            yield st.finding(
                RULE, f"{code}:{ev.hash}", body.time,
                f"{quantity.value} {quantity.unit} at {body.type} of item {code} (form "
                f"{form or 'unknown'}) cannot be weighed: {why}; no balance counts it",
                (ev.hash,), org=body.org, site=body.site, item=code, chemical=form,
            )  # fmt: skip
