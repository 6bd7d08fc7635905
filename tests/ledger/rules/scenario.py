"""A small language for rule tests: a city of registry records and chained events.

Events are real, strictly validated bodies (``parse_body``) with real chain links; they
are not signed, because the engine judges flows, not signatures. Each event's log time
is its event time plus ``lag`` unless given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from api.catalogs import load_registry
from ledger.events import parse_body
from ledger.licences import Licence
from ledger.records import RegistryRecord, check_attributes
from ledger.rules import (
    Engine,
    EventFact,
    Finding,
    JournalFact,
    LicenceFact,
    RecordFact,
    RulesConfig,
    load_rules,
)
from ledger.timefmt import format_utc

CATALOG = "2026-draft.1"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ACTOR = "sha256:" + "a" * 64
CO_ACTOR = "sha256:" + "b" * 64
DRIVER = "sha256:" + "d" * 64
ESCORT = "sha256:" + "e" * 64
_CATALOGS = load_registry()

SITES = {
    # site: (org, district, lat, lon, major_hazard)
    "plant": ("maker", "fangshan", "39.7351", "115.9968", True),
    "depot": ("store", "tongzhou", "39.9097", "116.6566", False),
    "lab": ("user", "haidian", "39.9925", "116.3059", False),
    "lab-annex": ("user", "haidian", "39.9930", "116.3065", False),
    "yard": ("carrier", "shunyi", "40.1300", "116.6546", False),
    "ward": ("clinic", "dongcheng", "39.9573", "116.4136", False),
    "office": ("trader", "chaoyang", "39.9219", "116.4436", False),
    "kiln": ("disposer", "changping", "40.2207", "116.2312", False),
    "shanghai": ("user", "pudong", "31.2304", "121.4737", False),
}
ORGS = {
    "maker": ("producer", ["produce", "store", "sell", "fill"]),
    "store": ("warehouse", ["store"]),
    "user": ("laboratory", ["buy", "use", "store"]),
    "clinic": ("end_user", ["buy", "use", "store"]),
    "carrier": ("carrier", ["ship"]),
    "trader": ("trader", ["buy", "sell", "store"]),
    "disposer": ("disposer", ["receive", "dispose"]),
    "person": ("individual", []),
}


def _hash(*parts: object) -> str:
    return "sha256:" + hashlib.sha256(repr(parts).encode()).hexdigest()


@dataclass
class City:
    """An engine fed with a standard city; add events with :meth:`event`."""

    config: RulesConfig = field(default_factory=load_rules)
    lag: timedelta = timedelta(seconds=5)
    engine: Engine = field(init=False)
    found: list[Finding] = field(default_factory=list)
    index: int = 0
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    clock: datetime = T0

    def __post_init__(self) -> None:
        self.engine = Engine(self.config, _CATALOGS)
        for org, (kind, activities) in ORGS.items():
            self.record("org", org, name=org.title(), type=kind, district="chaoyang")
            if activities:
                self.licence(org, activities)
        for site, (org, district, lat, lon, major) in SITES.items():
            self.record("site", site, org=org, name=site, address="1 Road", district=district,
                        lat=lat, lon=lon, capacity_t="500", major_hazard=major)  # fmt: skip
        self.record("vehicle", "truck", org="carrier", plate="京A·D1234",
                    transport_licence="JY-1", un_classes=["2", "3", "5.1", "6.1", "8"],
                    valid_until="2028-01-01T00:00:00Z")  # fmt: skip
        for crew, role, person in (("li", "driver", DRIVER), ("wang", "escort", ESCORT)):
            self.record("crew", crew, org="carrier", role=role, person=person,
                        certificate_no=f"YS-{crew}", valid_from="2026-01-01T00:00:00Z",
                        valid_until="2029-01-01T00:00:00Z")  # fmt: skip

    # -- registry ----------------------------------------------------------------------------

    def _log_time(self, at: datetime | None = None) -> str:
        return format_utc(at or self.clock)

    def record(self, kind: str, record_id: str, **attrs: Any) -> None:
        self.index += 1
        checked = check_attributes(kind, attrs)
        record = RegistryRecord(kind, record_id, checked, "root")  # type: ignore[arg-type]
        self.found += self.engine.feed(RecordFact(self.index, self._log_time(), record))

    def licence(self, org: str, activities: list[str], chemicals: list[str] | None = None,
                **fields: Any) -> None:  # fmt: skip
        self.index += 1
        licence = Licence(
            licence_no=fields.pop("licence_no", f"L-{org}-{self.index}"), org=org,
            kind=fields.pop("kind", "business"), activities=tuple(activities),
            chemicals=tuple(chemicals or ["all"]),
            valid_from=fields.pop("valid_from", "2026-01-01T00:00:00Z"),
            valid_until=fields.pop("valid_until", "2029-01-01T00:00:00Z"),
            status=fields.pop("status", "active"), issuer="root",
        )  # fmt: skip
        self.found += self.engine.feed(LicenceFact(self.index, self._log_time(), licence))

    def permit(self, permit_id: str, **attrs: Any) -> None:
        attrs.setdefault("valid_from", "2026-01-01T00:00:00Z")
        attrs.setdefault("valid_until", "2027-01-01T00:00:00Z")
        attrs.setdefault("number", permit_id.upper())
        self.record("permit", permit_id, **attrs)

    # -- events ------------------------------------------------------------------------------

    def at(self, **delta: float) -> datetime:
        """Move the scenario clock forward and return it."""
        self.clock += timedelta(**delta)
        return self.clock

    def event(self, kind: str, org: str, items: list[str | tuple[str, str]], data: dict[str, Any],
              *, site: str | None = None, at: datetime | None = None,
              log_at: datetime | None = None, **extra: Any) -> str:  # fmt: skip
        """Append one event; return its hash."""
        moment = at or self.at(minutes=10)
        links = []
        for entry in items:
            code, role = (entry, "subject") if isinstance(entry, str) else entry
            seq, prev = self.heads.get(code, (-1, None))
            links.append({"code": code, "seq": seq + 1, "prev": prev, "role": role})
        body = {"v": 1, "type": kind, "time": format_utc(moment), "org": org,
                "device_key": "0" * 32, "actor": ACTOR, "items": links,
                "catalog_version": CATALOG, "data": data, **extra}  # fmt: skip
        if site is not None:
            body["site"] = site
        parsed = parse_body(body)
        self.index += 1
        event_hash = _hash(self.index, body)
        for link in links:
            self.heads[str(link["code"])] = (int(link["seq"]), event_hash)  # type: ignore[call-overload]
        log_time = format_utc(log_at or (moment + self.lag))
        self.found += self.engine.feed(EventFact(self.index, log_time, event_hash, parsed))
        return event_hash

    def journal(self, code: str, item: str, org: str) -> None:
        self.index += 1
        entry = JournalFact(id=f"j{self.index}", at=format_utc(self.clock), code=code,
                            detail="refused", org=org, item=item)  # fmt: skip
        self.found += self.engine.journal(entry)

    def advance(self, **delta: float) -> None:
        self.found += self.engine.advance(self.at(**delta))

    # -- common flows --------------------------------------------------------------------------

    def commission(self, code: str, chemical: str = "33.1", value: str = "20", unit: str = "kg",
                   org: str = "maker", site: str = "plant", packaging: str = "drum",
                   **extra: Any) -> str:  # fmt: skip
        return self.event("commission", org, [code], {
            "chemical": chemical, "quantity": {"value": value, "unit": unit}, "lot": "L1",
            "packaging": packaging}, site=site, **extra)  # fmt: skip

    def ship(self, codes: list[str], org: str = "maker", to: str = "user", to_site: str = "lab",
             site: str = "plant", **data: Any) -> str:  # fmt: skip
        payload = {"carrier": "carrier", "consignee": to, "consignee_site": to_site,
                   "vehicle": "truck", "driver": DRIVER, "escort": ESCORT,
                   "waybill_no": "WB-1", **data}  # fmt: skip
        return self.event("ship", org, list(codes), {k: v for k, v in payload.items() if v is not None},
                          site=site)  # fmt: skip

    def receive(self, codes: list[str], ship: str, org: str = "user", site: str = "lab",
                **extra: Any) -> str:  # fmt: skip
        return self.event("receive", org, list(codes), {"ship": ship}, site=site, **extra)

    def deliver(self, codes: list[str], to: str = "user", to_site: str = "lab",
                hours: float = 2) -> str:  # fmt: skip
        """Ship from the plant and receive ``hours`` later, with waypoints every 20 min."""
        shipped = self.ship(codes, to=to, to_site=to_site)
        start = self.clock
        steps = int(hours * 3)
        for step in range(1, steps):
            self.event("waypoint", "carrier", list(codes), {"ship": shipped},
                       at=start + timedelta(minutes=20 * step),
                       geo={"lat": "39.9", "lon": "116.4"})  # fmt: skip
        self.clock = start + timedelta(hours=hours)
        return self.receive(codes, shipped, org=to, site=to_site, at=self.clock)

    # -- results -------------------------------------------------------------------------------

    def rules(self) -> list[str]:
        return [finding.rule for finding in self.found]

    def of(self, rule: str) -> list[Finding]:
        return [finding for finding in self.found if finding.rule == rule]
