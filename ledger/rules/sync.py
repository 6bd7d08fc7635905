"""``device.late_sync``: an event that reached the ledger late. Pure.

Handhelds work offline and sync later (domain-rules §5: offline capture with later
sync), so deadlines judge an event by its signed time, believed back to
``device.clock_trust_hours`` before its log time (:attr:`EventView.trusted`). This rule
reports, at low severity and never as a breach of the deadline itself:

- an event signed longer ago than the trust window: its signed time is not believed, and
  every deadline judges it at the window's edge instead;
- an event synced after a deadline finding was raised that it shows was met (a receive
  signed within the transit allowance, a buyer's filing signed within the five days):
  this finding names the raised one in ``supersedes``, and the findings store moves that
  one to ``superseded`` through a workflow transition.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState, utc_text

RULE = "device.late_sync"


def check(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    lag_s = ev.logged - ev.time.timestamp()
    beyond = lag_s > ev.clock_trust_s
    if not beyond and not ev.supersedes:
        return
    hours = st.config.device.clock_trust_hours
    what = f"{body.type} signed by {body.org} at {body.time} was logged {lag_s / 3600:.1f} h later"
    if beyond:
        what += (f", beyond the {hours}-hour device clock trust window: deadlines judge it "
                 f"at {utc_text(ev.trusted)}")  # fmt: skip
    if ev.supersedes:
        what += f"; it was in time, so it supersedes {', '.join(ev.supersedes)}"
    found = st.finding(
        RULE, ev.hash, body.time, what, (ev.hash,), org=body.org, site=body.site,
        item=body.items[0].code,
    )  # fmt: skip
    yield None if found is None else replace(found, supersedes=tuple(ev.supersedes))
