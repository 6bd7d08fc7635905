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

A quantity on a many-item receive or return is their total, judged against the items'
summed book (:func:`ledger.rules.loss.judge`). A quantity that cannot be converted to kg
is not judged here (``quantity.unit_unknown`` reports it).
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Receive, Return
from ledger.rules import loss
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState


def on_receive(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Receive)
    rules = st.config.mass
    found = loss.judge(st, ev, body.data.quantity, rules.receive_tolerance)
    if found is None:
        return
    chem = found.chemical
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
    found = loss.judge(st, ev, body.data.quantity, rules.count_tolerance)
    if found is None:
        return
    chem = found.chemical
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
