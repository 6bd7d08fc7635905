"""Mass balance per transformation, per container count, per organisation (R-TOX-6). Pure.

- ``mass.transform_imbalance``: a decant, blend or repack whose outputs differ from its
  inputs by more than the tolerance (in kilograms, through the catalog's density), or
  that takes more from an input than the input held.
- ``mass.stock_shortfall``: a stock count below the book quantity by more than the
  tolerance; for highly toxic and explosive-precursor chemicals any shortfall, at the
  strict severity (:mod:`ledger.rules.loss`; a return short of the book:
  :mod:`ledger.rules.receipt`).
- ``mass.org_balance``: an organisation declared more use or disposal of a chemical than
  its containers held. Ordinary chemicals are judged over each window (30 days by
  default) against max(``org_min_kg``, ``org_tolerance`` × what was declared), by a
  deadline at the window's end (Art. 25 出入库核查、登记: a reconciliation, where scale
  error evens out). 剧毒 and 易制爆 are judged at the very use or disposal, with zero
  tolerance and the strict severity: R-TOX-6 (domain-rules §2.2) asks for the records of
  their quantities to be true and a loss to be reported at once, so an amount the books
  did not hold cannot wait for a window to close.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ledger.events import Dispose, Quantity, StockCount, Transform, Use
from ledger.rules import loss
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import OrgWindow, RuleState
from ledger.rules.world import Chemistry

WINDOW = "window"


def on_transform(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Transform)
    tolerance = st.config.mass.transform_tolerance
    chem = next((c for c in ev.chemicals.values() if c is not None), None)
    problems: list[str] = []
    totals: list[Decimal] = []
    for side in (body.data.inputs, body.data.outputs):
        masses = [Chemistry.kilograms(Decimal(c.quantity.value), c.quantity.unit, chem)
                  for c in side]  # fmt: skip
        if any(mass is None for mass in masses):
            return
        totals.append(sum((m for m in masses if m is not None), Decimal(0)))
    taken, made = totals
    if made > taken * (1 + tolerance) or made < taken * (1 - tolerance):
        problems.append(f"{taken} kg in, {made} kg out")
    for entry in body.data.inputs:
        state = ev.before[entry.code]
        if state.quantity is None or state.unit is None:
            continue
        held = Chemistry.kilograms(state.quantity, state.unit, chem)
        want = Chemistry.kilograms(Decimal(entry.quantity.value), entry.quantity.unit, chem)
        if held is not None and want is not None and want > held * (1 + tolerance):
            problems.append(f"{entry.code} gave {want} kg but held {held} kg")
    if problems:
        yield st.finding(
            "mass.transform_imbalance", ev.hash, body.time,
            f"{body.data.kind} by {body.org} does not balance: {'; '.join(problems)}",
            (ev.hash,), org=body.org, site=body.site, item=body.data.inputs[0].code,
            chemical=chem.seq if chem else None,
        )  # fmt: skip


def on_count(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, StockCount)
    rules = st.config.mass
    # one count over many containers is their total: it is judged against their summed book
    found = loss.judge(st, ev, body.data.quantity, rules.count_tolerance)
    if found is None:
        return
    codes = [link.code for link in body.items]
    code, state = codes[0], ev.before[codes[0]]
    yield st.finding(
        "mass.stock_shortfall", f"{code}:{ev.hash}", body.time,
        f"stock count {body.data.count_id} at {body.site or body.org} found "
        f"{found.recorded} kg of item(s) {', '.join(codes)}; the books say {found.book} kg "
        f"({found.missing} kg short)",
        (*(h for c in codes if (h := st.items[c].last_event)), ev.hash), org=body.org,
        site=body.site or state.site, item=code,
        chemical=found.chemical.seq if found.chemical else state.chemical,
        severity=loss.severity(rules, found),
    )  # fmt: skip


def on_consume(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    """Judge a strict chemical's overdraw now; add any other's to its organisation's window."""
    body = ev.body
    assert isinstance(body, (Use, Dispose))
    declared = body.data.quantity
    if declared is None:
        return
    rules = st.config.mass
    if len(body.items) > 1:
        yield from _shared(st, ev, declared)
        return
    span = rules.org_window_days * 86400.0
    start = (ev.time.timestamp() // span) * span
    for link in body.items:
        state, chem = ev.before[link.code], ev.chemicals[link.code]
        want = Chemistry.kilograms(Decimal(declared.value), declared.unit, chem)
        if want is None or chem is None:
            continue
        held: Decimal | None = Decimal(0)
        if state.quantity is not None and state.unit is not None:
            held = Chemistry.kilograms(state.quantity, state.unit, chem)
        if loss.strict(rules, (chem,)):
            # a shared use may have come from the item's partners, so it leaves held as is;
            # an unknown book is quantity.unit_unknown's
            if held is not None and want > held:
                yield _strict_overdraw(st, ev, want, held, chem.seq)
            continue
        held = held or Decimal(0)
        key = (body.org, chem.seq, int(start))
        window = st.windows.get(key)
        if window is None:
            window = st.windows[key] = OrgWindow(end=start + span,
                                                 chemical=chem.seq, site=body.site)  # fmt: skip
            # a window closes a day after the ledger learned of its first entry at the
            # earliest, so a backfill is judged whole, not from its first event
            due = max(window.end, ev.known + 86400)
            st.schedule(due, WINDOW, f"{body.org}|{chem.seq}|{int(start)}")
        window.consumed_kg += want
        if want > held:
            window.overdraw_kg += want - held
            if len(window.evidence) < 20:
                window.evidence.append(ev.hash)


def _shared(st: RuleState, ev: EventView, declared: Quantity) -> Iterator[Finding | None]:
    """A total over many items: kept to explain their shortfalls; for the strict categories,
    more than they held together is an overdraw at once."""
    books = loss.book(st, ev)
    want = None if books is None else books.kilograms(declared)
    if books is None or want is None:
        return
    if ev.body.type == "use":
        loss.share(st, ev, want)
    rules = st.config.mass
    strict = [c for c in books.chemicals if c is not None and c.in_any(rules.strict_categories)]
    if strict and want > books.held:
        yield _strict_overdraw(st, ev, want, books.held, strict[0].seq)


def _strict_overdraw(
    st: RuleState, ev: EventView, want: Decimal, held: Decimal, seq: str
) -> Finding | None:
    body = ev.body
    codes = [link.code for link in body.items]
    code = codes[0]
    return st.finding(
        "mass.org_balance", f"{body.org}|{seq}|{code}:{ev.hash}", body.time,
        f"{body.org} declared {want} kg of chemical {seq} {body.type}d from item(s) "
        f"{', '.join(codes)}, {want - held} kg more than they held ({held} kg)",
        (*(h for c in codes if (h := st.items[c].last_event)), ev.hash), org=body.org,
        site=body.site or ev.before[code].site, item=code, chemical=seq,
        severity=st.config.mass.strict_severity,
    )  # fmt: skip


def fire_window(st: RuleState, key: str, due: float) -> Iterator[Finding | None]:
    org, seq, start = key.split("|")
    window = st.windows.pop((org, seq, int(start)), None)
    if window is None:
        return
    rules = st.config.mass
    limit = max(rules.org_min_kg, window.consumed_kg * rules.org_tolerance)
    if window.overdraw_kg <= limit:
        return
    yield st.finding(
        "mass.org_balance", key, due,
        f"{org} declared {window.consumed_kg} kg of chemical {seq} used or disposed of in "
        f"{rules.org_window_days} days, {window.overdraw_kg} kg more than its containers held",
        tuple(window.evidence), org=org, site=window.site, chemical=seq,
    )  # fmt: skip
