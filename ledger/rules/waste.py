"""Hazardous waste handed to a disposer: the named disposer's licence, the manifest. Pure.

固体废物污染环境防治法 (2020) Art. 80 and 82; 危险废物转移管理办法 (MEE/MPS/MOT 2021,
in force 2022-01-01); domain-rules §2.6 (R-WST-1). A ``dispose`` names its disposer
(``data.disposer``) and the transfer manifest (转移联单, ``data.manifest_no``).

- ``waste.disposer_unlicensed``: the named disposer is not an active organisation, or
  holds at the event's time no active licence of a hazardous-waste business kind
  (``waste.disposer_licence_kinds``, 危险废物经营许可证) for a disposal activity that
  covers the waste's chemical. When the actor names itself and ``licence.missing``
  already judges its own disposal licence, this rule stays out of it (one finding).
- ``waste.manifest_missing``: waste handed to another organisation with no manifest
  number, with a number that is not of the configured form (``waste.manifest_pattern``),
  or with a number already used for another transfer. One manifest is filled per vehicle
  trip per waste class (1999 measures Art. 5; the 2021 measures keep one manifest per
  transfer), so a number seen before between other parties, or on another Beijing day,
  is reused. A transferor that files its manifests as registry records
  (``waste.manifest_record_kinds``) must cite one of its own, for this disposer, covering
  the waste and valid at the event's time; one that files none is judged on the number
  alone. A disposer disposing of waste it made itself transfers nothing and needs no
  manifest; one disposing of waste it received from another organisation's shipment
  ends a transfer, and cites its manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from ledger.events import Dispose
from ledger.localtime import local_date
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import ChemicalFacts, covers_chemical


def on_dispose(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Dispose)
    yield from _disposer(st, ev, body)
    if body.data.disposer != body.org or _transferred(st, body):
        yield from _manifest(st, ev, body)


def _transferred(st: RuleState, body: Dispose) -> bool:
    """Whether the disposer received the waste from another organisation: the transfer the
    manifest travels with, even though the disposal itself names no one else."""
    return any(
        (track := st.items.get(link.code)) is not None and track.handed_by not in (None, body.org)
        for link in body.items
    )


def _disposer(st: RuleState, ev: EventView, body: Dispose) -> Iterator[Finding | None]:
    disposer, registry = body.data.disposer, st.registry
    if disposer == body.org:
        own = st.config.licence.required.get(body.type)
        if own is not None and (
            own.org_types is None or registry.org_type(disposer) in own.org_types
        ):
            return
    attrs = registry.attrs("org", disposer)
    status = None if attrs is None else str(attrs.get("status", "active"))
    uncovered = sorted(
        {
            (c.seq if c else "?")
            for c in ev.chemicals.values()
            if not _licensed(st, disposer, c, ev.time)
        }
    )
    if status == "active" and not uncovered:
        return
    if status is None:
        why = f"{disposer} is not a registered organisation"
    elif status != "active":
        why = f"{disposer} is {status}"
    else:
        why = (
            f"{disposer} holds no hazardous-waste licence covering chemical {', '.join(uncovered)}"
        )
    yield st.finding(
        "waste.disposer_unlicensed", f"{ev.hash}:{disposer}", body.time,
        f"{body.org} handed waste to {why}", (ev.hash,),
        org=body.org, site=body.site, item=body.items[0].code, chemical=_first(ev),
    )  # fmt: skip


def _licensed(st: RuleState, org: str, chem: ChemicalFacts | None, moment: datetime) -> bool:
    rules = st.config.waste
    return any(
        licence.kind in rules.disposer_licence_kinds
        and licence.covers(moment)
        and not set(rules.disposer_activities).isdisjoint(licence.activities)
        and covers_chemical(licence.chemicals, chem)
        for licence in st.registry.licences.get(org, {}).values()
    )


def _manifest(st: RuleState, ev: EventView, body: Dispose) -> Iterator[Finding | None]:
    number, disposer = body.data.manifest_no, body.data.disposer
    day = local_date(ev.trusted).isoformat()
    why: str | None = None
    evidence: tuple[str, ...] = (ev.hash,)
    if number is None:
        why = "no transfer manifest (转移联单) number"
    elif re.fullmatch(st.config.waste.manifest_pattern, number) is None:
        why = f"manifest number {number!r} is not of the manifest form"
    elif not _filed(st, ev, body, number):
        why = f"manifest number {number}, which matches no filed manifest of {body.org} for it"
    else:
        seen = st.manifests.get(number)
        if seen is None:
            st.manifests[number] = (body.org, disposer, day, ev.hash)
        elif seen[:3] != (body.org, disposer, day):
            why = f"manifest number {number} was already used for another transfer"
            evidence = (seen[3], ev.hash)
    if why is None:
        return
    yield st.finding(
        "waste.manifest_missing", ev.hash, body.time,
        f"{_transfer(st, body)} with {why}", evidence,
        org=body.org, site=body.site, item=body.items[0].code, chemical=_first(ev),
    )  # fmt: skip


def _transfer(st: RuleState, body: Dispose) -> str:
    disposer = body.data.disposer
    if disposer != body.org:
        return f"{body.org} handed waste to {disposer}"
    senders = sorted({t.handed_by for link in body.items
                      if (t := st.items.get(link.code)) is not None and t.handed_by})  # fmt: skip
    return f"{disposer} disposed of waste shipped to it by {', '.join(senders)}"


def _filed(st: RuleState, ev: EventView, body: Dispose, number: str) -> bool:
    """True unless the transferor files manifests as records and none covers this transfer."""
    registry, kinds = st.registry, st.config.waste.manifest_record_kinds
    files = any(
        registry.records[("permit", permit_id)].attrs["kind"] in kinds
        for permit_id in registry.permits_by_org.get(body.org, ())
    )
    return not files or all(
        registry.permit(body.org, kinds, chem, ev.time, counterparty=body.data.disposer,
                        number=number) is not None
        for chem in ev.chemicals.values()
    )  # fmt: skip


def _first(ev: EventView) -> str | None:
    return next((c.seq for c in ev.chemicals.values() if c), None)
