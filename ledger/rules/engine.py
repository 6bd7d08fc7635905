"""The anomaly engine: ledger facts in log order in, findings out. Pure and deterministic.

The engine's clock is the log's clock. Before each entry it fires every deadline due
strictly before that entry's log time; :meth:`Engine.advance` fires those due strictly
before a later moment (the as-of time of a batch run, or "now" for an idle online
worker). A deadline due at an instant is met by an act at that instant, so it fires only
once the clock has passed it: every entry logged at that very instant is judged first,
however many there are and however the reading was split. So the same ledger read up to
the same as-of time gives the same findings: the online/batch parity the service relies on.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Final

from ledger.catalog import CatalogRegistry
from ledger.events import (
    EventBody,
)
from ledger.rules import (
    city,
    custody,
    cylinders,
    dormancy,
    keys,
    licensing,
    lifecycle,
    mass,
    permits,
    quantity,
    receipt,
    route,
    signals,
    storage,
    sync,
    toxic_pass,
    track,
    transport,
    unshipped,
    waste,
)
from ledger.rules.config import RulesConfig
from ledger.rules.facts import (
    CertificateFact,
    EventFact,
    EventView,
    JournalFact,
    LedgerFact,
    LicenceFact,
    RecordFact,
    RevocationFact,
)
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import ChemicalFacts, Chemistry, when
from ledger.state import ItemState, Projection

Fire = Callable[[RuleState, str, float], Iterator[Finding | None]]
TIMERS: Final[dict[str, Fire]] = {
    custody.TRANSIT: custody.fire_transit,
    permits.FILING: permits.fire_filing,
    mass.WINDOW: mass.fire_window,
    dormancy.IDLE: dormancy.fire_idle,
    track.SILENCE: track.fire_silence,
}


class Engine:
    """Feed it every ledger entry in log order; collect the findings it returns."""

    def __init__(self, config: RulesConfig, catalogs: CatalogRegistry) -> None:
        self.config = config
        chemistry = Chemistry(catalogs)
        self.state = RuleState(
            config=config,
            chemistry=chemistry,
            projection=Projection(kilograms=chemistry.units.kilograms),
        )
        self.clock = 0.0
        self.position = -1
        """The log index of the last entry fed."""
        self._trust_s = float(config.device.clock_trust_hours) * 3600

    # -- input -------------------------------------------------------------------------------

    def feed(self, fact: LedgerFact) -> list[Finding]:
        """Fire the deadlines due before the entry's log time, then judge the entry."""
        found = self.advance(when(fact.log_time).timestamp())
        self.position = fact.index
        match fact:
            case EventFact():
                found.extend(self._event(fact))
                # the log clock, not the raw log time: KeyLog.times stays sorted for bisect
                keys.on_event(self.state, fact.body.device_key, self.clock, fact.event_hash)
            case RecordFact():
                self.state.registry.apply_record(fact.record)
                permits.on_record(self.state, fact.record)
            case LicenceFact():
                self.state.registry.apply_licence(fact.licence)
            case CertificateFact():
                keys.on_certificate(self.state, fact.certificate)
            case RevocationFact():
                found.extend(_kept(keys.on_revocation(self.state, fact.revocation, fact.index,
                                                      fact.log_time)))  # fmt: skip
        return found

    def feed_all(self, facts: Iterable[LedgerFact]) -> list[Finding]:
        found: list[Finding] = []
        for fact in facts:
            found.extend(self.feed(fact))
        return found

    def journal(self, entry: JournalFact) -> list[Finding]:
        """Judge one security-journal entry (independent of log order)."""
        return list(_kept(signals.on_journal(self.state, entry)))

    def advance(self, moment: float | datetime) -> list[Finding]:
        """Fire every deadline due before ``moment`` (epoch seconds or a datetime)."""
        now = moment.timestamp() if isinstance(moment, datetime) else moment
        self.clock = max(self.clock, now)
        timers, found = self.state.timers, list[Finding]()
        while timers and timers[0][0] < self.clock:
            due, _, kind, key = heapq.heappop(timers)
            found.extend(_kept(TIMERS[kind](self.state, key, due)))
        return found

    def pending(self) -> list[tuple[float, str, str]]:
        """Armed deadlines as ``(due, kind, key)``, soonest first."""
        return [(due, kind, key) for due, _, kind, key in sorted(self.state.timers)]

    # -- one event ---------------------------------------------------------------------------

    def _event(self, fact: EventFact) -> list[Finding]:
        st, body = self.state, fact.body
        items = self.state.projection.items
        before = {link.code: items.get(link.code) or ItemState(code=link.code)
                  for link in body.items}  # fmt: skip
        view = EventView(fact, when(body.time), before, {}, self._chemicals(body, before),
                         clock_trust_s=self._trust_s)  # fmt: skip
        # each rule's generator is drained in turn, as ``yield from`` would, by list.extend
        found: list[Finding | None] = []
        judge = found.extend
        judge(lifecycle.before(st, view))
        judge(storage.before(st, view))
        judge(licensing.check(st, view))
        judge(_BY_TYPE.get(body.type, _nothing)(st, view))
        judge(sync.check(st, view))
        self.state.projection.apply(body)
        view.after = {code: items[code] for code in before}
        if any(c is None for c in view.chemicals.values()):
            view.chemicals = self._chemicals(body, view.after)
        judge(lifecycle.after(st, view))
        judge(quantity.check(st, view))
        judge(lifecycle.travel(st, view))
        judge(unshipped.check(st, view))
        judge(city.check(st, view))
        judge(storage.incompatible(st, view))
        judge(storage.after(st, view))
        self._track(view)
        return [finding for finding in found if finding is not None]

    def _track(self, view: EventView) -> None:
        body = view.body
        for code, state in view.after.items():
            track = self.state.items[code]
            if body.type == "commission":
                track.commission = track.commission or view.hash
            elif body.type in ("dispose", "destroy") and track.ended is None:
                track.ended = (state.status, view.hash)
            track.last_event = view.hash
        dormancy.rearm(self.state, view)

    def _chemicals(
        self, body: EventBody, states: dict[str, ItemState]
    ) -> dict[str, ChemicalFacts | None]:
        chemistry, version = self.state.chemistry, body.catalog_version
        known = {code: chemistry.facts(version, state.chemical) for code, state in states.items()}
        if body.type == "commission":
            known[body.items[0].code] = chemistry.facts(version, body.data.chemical)
        return known


Judge = Callable[[RuleState, EventView], Iterable[Finding | None]]
"""The rules of one event type, in the order they run."""


def _ship(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    yield from transport.on_ship(st, view)
    custody.on_ship(st, view)
    route.on_ship(st, view)
    track.on_ship(st, view)
    yield from toxic_pass.on_ship(st, view)


def _receive(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    track.on_receive(st, view)
    yield from custody.on_receive(st, view)
    yield from receipt.on_receive(st, view)


def _waypoint(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    custody.on_waypoint(st, view)
    yield from route.on_waypoint(st, view)
    track.on_waypoint(st, view)


def _return(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    custody.on_return(st, view)
    yield from receipt.on_return(st, view)


def _buy(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    permits.on_buy(st, view)
    return iter(())


def _dispose(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    yield from mass.on_consume(st, view)
    yield from waste.on_dispose(st, view)


def _inspect(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    cylinders.on_inspect(st, view)
    return iter(())


def _nothing(st: RuleState, view: EventView) -> Iterator[Finding | None]:
    return iter(())


_BY_TYPE: Final[dict[str, Judge]] = {
    "ship": _ship, "receive": _receive, "waypoint": _waypoint, "return": _return,
    "sell": permits.on_sell, "buy": _buy, "transform": mass.on_transform,
    "stock_count": mass.on_count, "use": mass.on_consume, "dispose": _dispose,
    "fill": cylinders.on_fill, "inspect": _inspect,
}  # fmt: skip
"""Each event type's own rules (a dict: one lookup instead of a dozen class matches)."""


def _kept(found: Iterable[Finding | None]) -> Iterator[Finding]:
    return (finding for finding in found if finding is not None)
