"""Beijing's own lists (R-BJ-1): prohibited chemicals and restricted districts. Pure.

- ``city.prohibited``: any event on a chemical the configured list prohibits from a date.
- ``city.restricted_bulk``: an item above the small-package limit kept or used at a site
  in a restricted district (the capital core), unless its chemical is on the allowed list.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import Chemistry, when


def check(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body, rules = ev.body, st.config.city
    for code, chem in ev.chemicals.items():
        if chem is None:
            continue
        for ban in rules.prohibited:
            if ban.chemical in (chem.seq, chem.code) and when(ban.since) <= ev.time:
                yield st.finding(
                    "city.prohibited", code, body.time,
                    f"{chem.name} is prohibited in Beijing since {ban.since[:10]} "
                    f"({ban.source}); {body.org} recorded {body.type} of item {code}",
                    (ev.hash,), org=body.org, site=body.site, item=code, chemical=chem.seq,
                )  # fmt: skip
        state = ev.after[code]
        if state.status != "active" or state.site is None or state.quantity is None:
            continue
        if chem.seq in rules.bulk_allowed_chemicals or state.unit is None:
            continue
        attrs = st.registry.attrs("site", state.site)
        if attrs is None or attrs["district"] not in rules.restricted_districts:
            continue
        kg = Chemistry.kilograms(state.quantity, state.unit, chem)
        if kg is None or kg <= rules.bulk_limit_kg:
            continue
        yield st.finding(
            "city.restricted_bulk", f"{code}:{state.site}", body.time,
            f"{kg} kg of {chem.name} (item {code}) at {state.site} in {attrs['district']}, "
            f"where only packages up to {rules.bulk_limit_kg} kg are allowed",
            (ev.hash,), org=body.org, site=state.site, item=code, chemical=chem.seq,
        )  # fmt: skip
