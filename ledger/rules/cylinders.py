"""A cylinder filled after it failed its inspection (R-CYL-2). Pure.

TSG 23-2021 气瓶安全技术规程 (in force 2021-06-01): a cylinder that fails its periodic
inspection is scrapped (报废) or repaired and re-tested, and a filling unit checks
each cylinder before filling and refuses one that is scrapped or past its inspection;
domain-rules §2.7 R-CYL-2 (fill gate: refuse a fill if the cylinder is scrapped).

``storage.cylinder_failed_fill``: a ``fill`` of a cylinder (``storage.cylinder_packaging``)
whose latest inspection known to the log, by signed time, has an outcome in
``inspection.failed_outcomes`` and was signed at or before the fill: the failed result
binds from its own time, and only a later passing inspection lifts it. An inspection
signed after the fill, whatever order they reach the log in, does not make the fill late.
Times are instants (trusted signed times, :attr:`EventView.trusted`), not calendar days,
so no Beijing-date arithmetic is involved.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Fill, Inspect
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState


def on_inspect(st: RuleState, ev: EventView) -> None:
    body = ev.body
    assert isinstance(body, Inspect)
    for link in body.items:
        latest = st.inspections.get(link.code)
        if latest is None or ev.trusted >= latest[1]:
            st.inspections[link.code] = (body.data.outcome, ev.trusted, ev.hash)


def on_fill(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Fill)
    failed = st.config.inspection.failed_outcomes
    for link in body.items:
        state = ev.before[link.code]
        if state.packaging not in st.config.storage.cylinder_packaging:
            continue
        latest = st.inspections.get(link.code)
        if latest is None or latest[0] not in failed or latest[1] > ev.trusted:
            continue
        yield st.finding(
            "storage.cylinder_failed_fill", f"{link.code}:{ev.hash}", body.time,
            f"cylinder {link.code} was filled by {body.org} after its inspection "
            f"outcome {latest[0]!r}", (latest[2], ev.hash),
            org=body.org, site=body.site, item=link.code, chemical=state.chemical,
        )  # fmt: skip
