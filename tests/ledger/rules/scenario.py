"""A small language for rule tests: a city of registry records and chained events.

Events are real, strictly validated bodies (``parse_body``) with real chain links; they
are not signed, because the engine judges flows, not signatures. Each event's log time
is its event time plus ``lag`` unless given. Every fact fed is kept in :attr:`City.facts`,
so the same ledger can be replayed into another engine.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.catalogs import DEFAULT_RULES, load_registry, load_rules, rules_reader
from ledger.certificates import Certificate, CertRole
from ledger.events import parse_body
from ledger.licences import Licence
from ledger.records import RegistryRecord, check_attributes
from ledger.revocations import Revocation
from ledger.rules import (
    CertificateFact,
    Engine,
    EventFact,
    Finding,
    JournalFact,
    LedgerFact,
    LicenceFact,
    RecordFact,
    RevocationFact,
    RulesConfig,
    parse_rules,
)
from ledger.timefmt import format_utc

CATALOG = "2026-draft.1"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ACTOR = "sha256:" + "a" * 64
CO_ACTOR = "sha256:" + "b" * 64
DRIVER = "sha256:" + "d" * 64
ESCORT = "sha256:" + "e" * 64
INSPECTOR = "sha256:" + "f" * 64
MANIFEST = "20261101050001"
"""A well-formed transfer manifest (转移联单) number: year, Beijing division code, serial."""
CATALOGS = load_registry()

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


def rules_config(**changes: Any) -> RulesConfig:
    """The shipped configuration with some sections changed.

    Each keyword names a section (``city``, ``permits``...) and maps to the keys to set
    in it, e.g. ``rules_config(city={"prohibited": [...]})``.
    """
    raw = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    for section, values in changes.items():
        raw[section] = {**raw[section], **copy.deepcopy(values)}
    return parse_rules(json.dumps(raw), include=rules_reader())


def site_point(site: str) -> tuple[Decimal, Decimal]:
    _, _, lat, lon, _ = SITES[site]
    return Decimal(lat), Decimal(lon)


def geo(lat: Decimal | float, lon: Decimal | float) -> dict[str, str]:
    """An event ``geo`` object, to four decimals (about 10 m)."""
    quantum = Decimal("0.0001")
    return {"lat": str(Decimal(lat).quantize(quantum)), "lon": str(Decimal(lon).quantize(quantum))}


def north_of(site: str, km: float) -> dict[str, str]:
    """A position ``km`` due north of ``site`` (one degree of latitude is 111.195 km)."""
    lat, lon = site_point(site)
    return {"lat": str(lat + Decimal(km / 111.19508).quantize(Decimal("0.000001"))),
            "lon": str(lon)}  # fmt: skip


@dataclass
class City:
    """An engine fed with a standard city; add events with :meth:`event`."""

    config: RulesConfig = field(default_factory=load_rules)
    lag: timedelta = timedelta(seconds=5)
    engine: Engine = field(init=False)
    found: list[Finding] = field(default_factory=list)
    facts: list[LedgerFact] = field(default_factory=list)
    index: int = 0
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    clock: datetime = T0
    licence_nos: dict[str, str] = field(default_factory=dict)
    """The licence number of each organisation's standard licence."""

    def __post_init__(self) -> None:
        self.engine = Engine(self.config, CATALOGS)
        for org, (kind, activities) in ORGS.items():
            self.record("org", org, name=org.title(), type=kind, district="chaoyang")
            if activities:
                # a disposer's licence is a hazardous-waste business licence (危险废物经营许可证)
                licence_kind = "disposal" if kind == "disposer" else "business"
                self.licence_nos[org] = self.licence(org, activities, kind=licence_kind)
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
        # R-TOX-7: the producer's standing road transport pass for what it ships.
        self.permit("pass-maker", kind="transport_permit", org="maker", chemicals=["all"])

    def _feed(self, fact: LedgerFact) -> None:
        self.facts.append(fact)
        self.found += self.engine.feed(fact)

    # -- registry ----------------------------------------------------------------------------

    def _log_time(self, at: datetime | None = None) -> str:
        return format_utc(at or self.clock)

    def record(self, kind: str, record_id: str, /, **attrs: Any) -> None:
        self.index += 1
        checked = check_attributes(kind, attrs)
        record = RegistryRecord(kind, record_id, checked, "root")  # type: ignore[arg-type]
        self._feed(RecordFact(self.index, self._log_time(), record))

    def licence(self, org: str, activities: list[str], chemicals: list[str] | None = None,
                **fields: Any) -> str:  # fmt: skip
        """Log a licence (version); return its number."""
        self.index += 1
        licence = Licence(
            licence_no=fields.pop("licence_no", f"L-{org}-{self.index}"), org=org,
            kind=fields.pop("kind", "business"), activities=tuple(activities),
            chemicals=tuple(chemicals or ["all"]),
            valid_from=fields.pop("valid_from", "2026-01-01T00:00:00Z"),
            valid_until=fields.pop("valid_until", "2029-01-01T00:00:00Z"),
            status=fields.pop("status", "active"), issuer="root",
        )  # fmt: skip
        self._feed(LicenceFact(self.index, self._log_time(), licence))
        return licence.licence_no

    def revoke(self, org: str) -> None:
        """Revoke ``org``'s standard licence (a new version of it, status revoked)."""
        activities = ORGS[org][1]
        self.licence(org, activities, licence_no=self.licence_nos[org], status="revoked")

    def permit(self, permit_id: str, /, **attrs: Any) -> None:
        attrs.setdefault("valid_from", "2026-01-01T00:00:00Z")
        attrs.setdefault("valid_until", "2027-01-01T00:00:00Z")
        attrs.setdefault("number", permit_id.upper())
        self.record("permit", permit_id, **attrs)

    def certificate(self, public_key: bytes, *, org: str, issuer: str,
                    role: CertRole = "device") -> str:  # fmt: skip
        """Log a key certificate (unsigned: the engine judges flows); return the key's id."""
        self.index += 1
        cert = Certificate(role=role, algorithm="ed25519", public_key=public_key, org=org,
                           valid_from="2026-01-01T00:00:00Z", valid_until="2029-01-01T00:00:00Z",
                           issuer=issuer)  # fmt: skip
        self._feed(CertificateFact(self.index, self._log_time(), cert))
        return cert.key_id

    def revocation(self, key_id: str, *, org: str, effective_from: datetime,
                   log_at: datetime | None = None) -> None:  # fmt: skip
        """Log a revocation of ``key_id`` effective from ``effective_from``."""
        self.index += 1
        revocation = Revocation(key_id=key_id, org=org, effective_from=format_utc(effective_from),
                                reason="key compromise", issuer="root")  # fmt: skip
        self._feed(RevocationFact(self.index, self._log_time(log_at), revocation))

    # -- events ------------------------------------------------------------------------------

    def at(self, **delta: float) -> datetime:
        """Move the scenario clock forward and return it."""
        self.clock += timedelta(**delta)
        return self.clock

    def forget(self, code: str) -> None:
        """The next event on ``code`` starts a new chain (as a copied label would)."""
        self.heads.pop(code, None)

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
        self._feed(EventFact(self.index, log_time, event_hash, parsed))
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
             site: str | None = "plant", **data: Any) -> str:  # fmt: skip
        """Ship with full documents; pass ``escort=None`` (etc.) to leave one out."""
        payload = {"carrier": "carrier", "consignee": to, "consignee_site": to_site,
                   "vehicle": "truck", "driver": DRIVER, "escort": ESCORT,
                   "waybill_no": "WB-1", **data}  # fmt: skip
        return self.event("ship", org, list(codes), {k: v for k, v in payload.items() if v is not None},
                          site=site)  # fmt: skip

    def waypoint(self, codes: list[str], ship: str, at: datetime, position: dict[str, str]) -> str:
        return self.event("waypoint", "carrier", list(codes), {"ship": ship}, at=at, geo=position)

    def track(self, codes: list[str], ship: str, start: datetime, minutes: list[float],
              origin: str = "plant", to_site: str = "lab", total: float | None = None) -> None:  # fmt: skip
        """Waypoints at ``minutes`` after ``start``, on the straight line to ``to_site``."""
        (lat0, lon0), (lat1, lon1) = site_point(origin), site_point(to_site)
        span = total or (max(minutes) + 1)
        for minute in minutes:
            part = Decimal(minute / span)
            self.waypoint(codes, ship, start + timedelta(minutes=minute),
                          geo(lat0 + (lat1 - lat0) * part, lon0 + (lon1 - lon0) * part))  # fmt: skip

    def receive(self, codes: list[str], ship: str, org: str = "user", site: str = "lab",
                quantity: tuple[str, str] | None = None, **extra: Any) -> str:  # fmt: skip
        data: dict[str, Any] = {"ship": ship}
        if quantity is not None:
            data["quantity"] = {"value": quantity[0], "unit": quantity[1]}
        return self.event("receive", org, list(codes), data, site=site, **extra)

    def deliver(self, codes: list[str], to: str = "user", to_site: str = "lab",
                hours: float = 2, every: float = 20, org: str = "maker",
                site: str = "plant") -> Delivery:  # fmt: skip
        """Ship from ``site`` and receive ``hours`` later, with a waypoint every ``every`` min."""
        shipped = self.ship(codes, org=org, to=to, to_site=to_site, site=site)
        start = self.clock
        minutes: list[float] = []
        minute = every
        while minute < hours * 60:
            minutes.append(minute)
            minute += every
        self.track(codes, shipped, start, minutes, origin=site, to_site=to_site,
                   total=hours * 60)  # fmt: skip
        self.clock = start + timedelta(hours=hours)
        received = self.receive(codes, shipped, org=to, site=to_site, at=self.clock)
        return Delivery(shipped, received)

    def use(self, code: str, value: str, unit: str = "kg", org: str = "user",
            site: str = "lab", **extra: Any) -> str:  # fmt: skip
        return self.event("use", org, [code], {"quantity": {"value": value, "unit": unit}},
                          site=site, **extra)  # fmt: skip

    def count(self, code: str, value: str, unit: str = "kg", org: str = "user",
              site: str = "lab") -> str:  # fmt: skip
        return self.event("stock_count", org, [code], {
            "count_id": "C-1", "quantity": {"value": value, "unit": unit}}, site=site)  # fmt: skip

    def sell(self, codes: list[str], to: str, org: str = "maker", site: str = "plant",
             at: datetime | None = None, **data: Any) -> str:  # fmt: skip
        return self.event("sell", org, list(codes), {"counterparty": to, **data}, site=site,
                          at=at)  # fmt: skip

    # -- results -------------------------------------------------------------------------------

    def rules(self) -> list[str]:
        return [finding.rule for finding in self.found]

    def of(self, rule: str) -> list[Finding]:
        return [finding for finding in self.found if finding.rule == rule]

    def only(self, rule: str) -> Finding:
        """The one finding, which must be of ``rule``: nothing else may have fired."""
        assert self.rules() == [rule], self.describe()
        return self.found[0]

    def clean(self) -> None:
        """Nothing fired."""
        assert self.found == [], self.describe()

    def describe(self) -> str:
        return "\n".join(f"{f.rule}: {f.message}" for f in self.found) or "no findings"


@dataclass(frozen=True)
class Delivery:
    ship: str
    receive: str


def delivered(to: str = "user", to_site: str = "lab", **commission: Any) -> tuple[City, str]:
    """A city where DRUM-1 was commissioned at the plant and delivered to ``to`` at
    ``to_site`` (shipped, tracked and received), with nothing found; and the receive."""
    city = City()
    city.commission("DRUM-1", **commission)
    received = city.deliver(["DRUM-1"], to=to, to_site=to_site).receive
    city.clean()
    return city, received
