"""A receive or return that records less than the books hold. Pure.

- ``mass.receive_shortfall``: a receive whose recorded quantity is below what was shipped
  (the items' book quantity when the receive arrives, which the ship left as it was). For
  剧毒 and 易制爆 any shortfall, at the strict severity: R-TOX-6 (domain-rules §2.2, the
  loss must be reported to the police at once; 危险化学品安全管理条例 Art. 23, and Art. 51
  for a loss on the road, **[articles from recollection]**), and R-TOX-4's "seller/buyer
  quantity mismatch". For every other chemical, more than ``mass.receive_tolerance`` of
  the shipped mass short (Art. 25 出入库核查: what is taken in is checked and registered).
- ``mass.stock_shortfall`` at a return: a return recording less than the item held. The
  container is returned whole, so what it no longer holds went nowhere the ledger knows;
  judged as a count is (``mass.count_tolerance``, zero for the strict categories).

A quantity on a many-item receive or return is their total (as :mod:`ledger.state` reads
it), so it is judged against the items' summed book. A quantity that cannot be converted
to kg is not judged here (``quantity.unit_unknown`` reports it).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ledger.events import Quantity, Receive, Return
from ledger.rules import loss
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import ChemicalFacts, Chemistry


def on_receive(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Receive)
    rules = st.config.mass
    judged = _judge(st, ev, body.data.quantity, rules.receive_tolerance)
    if judged is None:
        return
    found, chem = judged
    codes = [link.code for link in body.items]
    yield st.finding(
        "mass.receive_shortfall", ev.hash, body.time,
        f"{body.org} received {found.recorded} kg of item(s) {', '.join(codes)} at "
        f"{body.site or body.org}; {found.book} kg was shipped ({found.missing} kg short)",
        (body.data.ship, ev.hash), org=body.org, site=body.site, item=codes[0],
        chemical=chem.seq if chem else ev.before[codes[0]].chemical,
        severity=loss.severity(rules, found),
    )  # fmt: skip


def on_return(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Return)
    rules = st.config.mass
    judged = _judge(st, ev, body.data.quantity, rules.count_tolerance)
    if judged is None:
        return
    found, chem = judged
    code = body.items[0].code
    yield st.finding(
        "mass.stock_shortfall", f"{code}:{ev.hash}", body.time,
        f"{body.org} returned item(s) {', '.join(link.code for link in body.items)} to "
        f"{body.data.to_org} recorded as {found.recorded} kg; the books say {found.book} kg "
        f"({found.missing} kg short)",
        tuple(h for h in (st.items[code].last_event, ev.hash) if h), org=body.org,
        site=body.site or ev.before[code].site, item=code,
        chemical=chem.seq if chem else ev.before[code].chemical,
        severity=loss.severity(rules, found),
    )  # fmt: skip


def _judge(
    st: RuleState, ev: EventView, recorded: Quantity | None, tolerance: Decimal
) -> tuple[loss.Loss, ChemicalFacts | None] | None:
    """The loss ``recorded`` shows against the event's items' book, and their one chemical."""
    if recorded is None:
        return None
    chemicals = [ev.chemicals[link.code] for link in ev.body.items]
    # a total over different chemicals is a mass only when written as one
    chem = chemicals[0] if len({c.code if c else None for c in chemicals}) == 1 else None
    book = Decimal(0)
    for link in ev.body.items:
        state = ev.before[link.code]
        if state.quantity is None or state.unit is None:
            return None
        held = Chemistry.kilograms(state.quantity, state.unit, ev.chemicals[link.code])
        if held is None:
            return None
        book += held
    got = Chemistry.kilograms(Decimal(recorded.value), recorded.unit, chem)
    if got is None:
        return None
    found = loss.loss(st.config.mass, book, got, tolerance, chemicals)
    return None if found is None else (found, chem)
