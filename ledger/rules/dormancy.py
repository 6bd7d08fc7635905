"""``dormancy.idle``: an item with no event for far longer than usual for its state. Pure.

Each event re-arms the item's timer at ``time + days_by_status[status]``; a state with no
configured period (lost, disposed, destroyed) has none. One timer per item sits in the
heap at a time: when it fires early (the item moved since), it re-queues itself at the
item's current due time instead of firing.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState

IDLE = "idle"


def rearm(st: RuleState, ev: EventView) -> None:
    periods = st.config.dormancy.days_by_status
    for code, state in ev.after.items():
        track = st.items[code]
        days = periods.get(state.status)
        if days is None:
            track.dormant_due = None
            continue
        due = ev.known + float(days) * 86400
        track.dormant_due = due
        if track.queued_due is None or due < track.queued_due:
            track.queued_due = due
            st.schedule(due, IDLE, code)


def fire_idle(st: RuleState, code: str, due: float) -> Iterator[Finding | None]:
    track = st.items.get(code)
    if track is None or track.queued_due != due:
        return
    track.queued_due = None
    if track.dormant_due is None:
        return
    if track.dormant_due > due:
        track.queued_due = track.dormant_due
        st.schedule(track.dormant_due, IDLE, code)
        return
    state = st.projection.items[code]
    yield st.finding(
        "dormancy.idle", f"{code}:{track.last_event}", due,
        f"item {code} has had no event since {state.last_time}; that is unusually "
        "long for its state", tuple(h for h in (track.last_event,) if h), org=state.holder,
        site=state.site, item=code, chemical=state.chemical,
    )  # fmt: skip
