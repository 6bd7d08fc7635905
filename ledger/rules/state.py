"""The engine's running state: item tracks, open shipments and sales, site stock, timers.

Everything here is derived from the ledger in log order, so a restarted worker rebuilds
it exactly by replaying the ledger; the timers (deadlines) are part of it and so survive
any restart.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from ledger.rules.config import RulesConfig
from ledger.rules.findings import Finding, Severity, finding_id
from ledger.rules.world import ChemicalFacts, Chemistry, Registry
from ledger.state import Projection
from ledger.timefmt import format_utc


@dataclass(slots=True)
class ItemTrack:
    commission: str | None = None
    ended: tuple[str, str] | None = None
    """``("disposed" | "destroyed", event hash)`` once the item's life ended."""
    point: tuple[float, float, float, str] | None = None
    """Last sighting: (epoch seconds, lat, lon, event hash)."""
    inspection_due: str | None = None
    consignee: str | None = None
    ship: str | None = None
    last_event: str | None = None
    """The hash of the item's newest event (its holder, place and time: the projection)."""
    dormant_due: float | None = None
    queued_due: float | None = None
    handed_by: str | None = None
    """The organisation whose shipment its holder received it from (``None``: never
    received, the holder made it): a disposal of it is the end of a waste transfer."""


@dataclass(slots=True)
class OpenShip:
    hash: str
    time: float
    org: str
    carrier: str
    consignee: str
    consignee_site: str | None
    due: float
    pending: set[str]
    total: int
    waypoints: list[float] = field(default_factory=list)
    checked_track: bool = False
    raised: str | None = None
    """The ``custody.transit_overdue`` finding its deadline raised, while a late-synced
    receive may still show it was met."""
    unexplained: set[str] = field(default_factory=set)
    """The items missing when it was raised, not yet received in time since."""
    received_any: bool = False
    """Someone (the consignee or not) signed a receive against it: the goods are located."""
    route: tuple[tuple[float, float], ...] = ()
    """The waybill's planned route, (lat, lon) vertices; empty when none was planned."""
    corridor_m: float = 0.0
    last_fix: float = 0.0
    """When the track was last heard from: the ship time, then the newest waypoint's."""
    silence_due: float = 0.0
    """When the track counts as lost if nothing is heard (the one armed silence timer)."""
    last_point: tuple[float, float] | None = None
    """Where the newest waypoint was, (lat, lon), when it carried a position."""
    track_raised: str | None = None
    """The ``transport.track_lost`` finding raised, while a late-synced receive may explain it."""


@dataclass(slots=True)
class OpenSale:
    hash: str
    seller: str
    buyer: str
    codes: frozenset[str]
    chemicals: tuple[ChemicalFacts, ...]
    """What was sold that needs filing, to match filing records against."""
    seller_filed: bool
    buyer_filed: bool
    chemical: str | None
    site: str | None
    time: float = 0.0
    """When the sale was made (its trusted time), which the filing period counts from."""
    due: float = 0.0
    """24:00 Beijing of the filing period's last day (Civil Code arts. 201, 203)."""
    raised: str | None = None
    """The ``permit.toxic_filing_missing`` finding its deadline raised, while a late-synced
    filing may still show it was met."""


Held = tuple[str, frozenset[str]]
"""A chemical (its seq) and its storage groups."""


@dataclass(slots=True)
class SiteStock:
    ratio: float = 0.0
    items: dict[str, tuple[float, Held]] = field(default_factory=dict)
    chemicals: Counter[Held] = field(default_factory=Counter)
    """Items held, by chemical and its storage groups."""


@dataclass(slots=True)
class OrgWindow:
    end: float
    consumed_kg: Decimal = Decimal(0)
    overdraw_kg: Decimal = Decimal(0)
    evidence: list[str] = field(default_factory=list)
    chemical: str | None = None
    site: str | None = None


@dataclass(slots=True)
class SharedUse:
    """A use or disposal declared as one total over many items (the fold moves none of
    them): the part of it no single-item record has yet taken off a book."""

    remaining_kg: Decimal


@dataclass(slots=True)
class KeyLog:
    """The log times of the events one device key signed, and the newest of their hashes."""

    times: array[float] = field(default_factory=lambda: array("d"))
    recent: deque[tuple[float, str]] = field(default_factory=deque)


@dataclass(slots=True)
class RuleState:
    """All mutable state; rule modules read and update it through the engine."""

    config: RulesConfig
    chemistry: Chemistry
    projection: Projection
    """Every item's holder, place, status and quantity (the same fold the API reads)."""
    registry: Registry = field(default_factory=Registry)
    items: dict[str, ItemTrack] = field(default_factory=lambda: defaultdict(ItemTrack))
    ships: dict[str, OpenShip] = field(default_factory=dict)
    sales: dict[str, OpenSale] = field(default_factory=dict)
    sales_by_org: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    filed_buys: set[tuple[str, str, str]] = field(default_factory=set)
    sites: dict[str, SiteStock] = field(default_factory=lambda: defaultdict(SiteStock))
    placement: dict[str, str] = field(default_factory=dict)
    windows: dict[tuple[str, str, int], OrgWindow] = field(default_factory=dict)
    shared_uses: dict[str, list[SharedUse]] = field(default_factory=lambda: defaultdict(list))
    """By item code: the many-item uses it was part of, which explain a later shortfall."""
    groups_of: dict[str, frozenset[str]] = field(default_factory=dict)
    """Storage groups by chemical code (a cache: the config never changes in a run)."""
    units: dict[str, tuple[int, str, frozenset[str]]] = field(default_factory=dict)
    """GB 18218 unit by site: (registry site epoch, org, the unit's sites) (a cache)."""
    unit_levels: dict[tuple[str, frozenset[str]], int] = field(default_factory=dict)
    """The Σq/Q level (0, 1 warn, 2 alert) last seen for each (org, unit)."""
    manifests: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    """Transfer manifest number → (transferor, disposer, Beijing date, first event hash)."""
    inspections: dict[str, tuple[str, float, str]] = field(default_factory=dict)
    """A cylinder's latest inspection: (outcome, trusted epoch seconds, event hash)."""
    permit_held: set[tuple[str, str]] = field(default_factory=set)
    """(item, org): regulated goods the org acquired under a purchase permit or filing."""
    key_logs: dict[str, KeyLog] = field(default_factory=dict)
    """Per device key, the events it signed (``keys.backdated_revocation``)."""
    device_issuers: dict[str, set[str]] = field(default_factory=dict)
    """Device key → the organisation keys that certified it."""
    revoked: dict[str, float] = field(default_factory=dict)
    """Key → its earliest revocation's effective time, epoch seconds."""
    emitted: set[str] = field(default_factory=set)
    timers: list[tuple[float, int, str, str]] = field(default_factory=list)
    timer_seq: int = 0

    def schedule(self, due: float, kind: str, key: str) -> None:
        """Arm a deadline; its handler re-checks the state when it fires."""
        self.timer_seq += 1
        heapq.heappush(self.timers, (due, self.timer_seq, kind, key))

    def finding(
        self,
        rule: str,
        key: str,
        at: str | float,
        message: str,
        evidence: tuple[str, ...],
        *,
        org: str | None = None,
        site: str | None = None,
        item: str | None = None,
        chemical: str | None = None,
        severity: Severity | None = None,
    ) -> Finding | None:
        """A new finding, or ``None`` if this rule already found this key."""
        found = finding_id(rule, key)
        if found in self.emitted:
            return None
        if isinstance(at, float):
            at = utc_text(at)
        made = Finding(
            rule=rule, key=key, severity=severity or self.config.severity[rule], at=at,
            message=message, evidence=evidence, org=org, site=site,
            district=self.registry.district_of(site, org), chemical=chemical, item=item,
        )  # fmt: skip
        self.emitted.add(found)
        return made

    def found(self, rule: str, key: str) -> bool:
        """Whether ``rule`` already found ``key`` in this run."""
        return finding_id(rule, key) in self.emitted


def utc_text(seconds: float) -> str:
    """Epoch seconds as RFC 3339 UTC text, to the second when whole (as events write it)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.microsecond == 0 else format_utc(moment)
