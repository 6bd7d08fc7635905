"""The emergency query: what hazardous material is within a radius of a point, at a time.

``GET /v1/emergency/nearby`` and the console's emergency page both call
:meth:`EmergencyService.nearby`. Sites come from the spatial index (``ledger.store.sites``:
a bounding-box prefilter through an R*Tree or GiST index, then the WGS-84 geodesic,
``ledger.geo``); what they hold is read from the item-state read model
(``ledger.store.readmodel``: the states at those sites now, or at the time asked), never
folded from the log per request. Shipments are those still in transit at the
time asked whose last GPS fix (the ship's ``geo``, then each waypoint's), no older than
:data:`FIX_WINDOW`, is inside the radius. Hazard classes,
toxic-inhalation and flammable totals and the advice are the catalog's
(:mod:`ledger.hazards`; definitions in docs/emergency.md).

Scope: admins, city-wide regulators and responders see every district; a district
regulator its districts (a site by its own district, a shipment when a party to it or one
of its two sites is in them); enterprises and inspectors are refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Final

from pydantic import BaseModel

from api.services.access import CITY_WIDE, Principal
from api.services.errors import ForbiddenError, NotFoundError
from api.services.gps_fixes import LastFixes
from ledger.catalog import (
    CatalogError,
    CatalogRegistry,
    UnknownCatalogVersionError,
    UnknownChemicalError,
)
from ledger.errors import InvalidInputError
from ledger.events import Ship, parse_body
from ledger.geo import distance_m, search_boxes
from ledger.hazards import Advice, Hazard, advice_for, hazard_of
from ledger.records import RegistryRecord, record_from_bytes
from ledger.state import ItemState
from ledger.store.catalog_files import SHIPPED
from ledger.store.readmodel import Holding, ItemReadModel
from ledger.store.repository import SqlLedgerStore
from ledger.store.sites import SitePlace, SiteStore
from ledger.timefmt import format_utc
from ledger.units import CatalogUnits

MAX_RADIUS_M: Final = 50_000.0
"""The largest radius asked for: 50 km covers a major-hazard evacuation zone many times
over (ERG 2024's largest protective-action distance is 11+ km), and bounds the work."""
FIX_WINDOW: Final = timedelta(hours=2)
"""How old a GPS fix may be and still say where a shipment is: the rules'
``shipping.track_silence_hours`` (catalogs/rules/2026.1.json; a test keeps the two
equal). A shipment silent for longer has a lost track (``transport.track_lost``): where
it is is not known, so it is in no radius; its last fix is in the findings."""
RECORD_CACHE: Final = 50_000
"""Decoded registry records kept (a site or organisation record is well under 1 kB)."""
READERS: Final = frozenset({"admin", "regulator", "city_regulator", "responder"})
ZERO: Final = Decimal(0)


class NearbyItem(BaseModel):
    code: str
    chemical: str
    chemical_name: str
    chemical_name_en: str | None
    cas: str | None
    un: str | None
    quantity: str
    unit: str
    kilograms: str | None


class ChemicalTotal(BaseModel):
    chemical: str
    chemical_name: str
    cas: str | None
    un: str | None
    items: int
    kilograms: str


class HazardClassTotal(BaseModel):
    hazard_class: str
    items: int
    kilograms: str


class ChemicalAdvice(BaseModel):
    chemical: str
    chemical_name: str
    advice: str


class Contact(BaseModel):
    role: str
    name: str | None
    phone: str | None


class NearbySite(BaseModel):
    site: str
    name: str
    organisation: str
    organisation_name: str
    district: str | None
    lat: float
    lon: float
    distance_m: float
    items: list[NearbyItem]
    totals_by_chemical: list[ChemicalTotal]
    totals_by_hazard_class: list[HazardClassTotal]
    toxic_inhalation_kg: str
    flammable_kg: str
    emergency_advice: list[ChemicalAdvice]
    contacts: list[Contact]


class Fix(BaseModel):
    lat: float
    lon: float
    at: str


class NearbyShipment(BaseModel):
    waybill: str | None
    carrier: str
    vehicle: str | None
    codes: list[str]
    last_fix: Fix
    distance_m: float
    totals_by_chemical: list[ChemicalTotal]


class NearbyAnswer(BaseModel):
    """The body of ``GET /v1/emergency/nearby``. Coordinates are WGS-84 degrees, distances
    geodesic metres on the WGS-84 ellipsoid, amounts decimal strings in kilograms."""

    lat: float
    lon: float
    radius_m: float
    at: str
    sites: list[NearbySite]
    shipments: list[NearbyShipment]


@cache
def shipped_advice() -> Mapping[str, Mapping[str, str]]:
    """The advice shipped with the catalogs (``catalogs/emergency-advice.json``)."""
    raw = json.loads((SHIPPED / "emergency-advice.json").read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


@dataclass(slots=True)
class _Folded:
    """Item states folded from the events of some items, with what the fold also learns."""

    states: dict[str, ItemState]
    versions: dict[str, str] = field(default_factory=dict)
    """Each item's catalog version: that of its newest event folded."""
    last_ship: dict[str, int] = field(default_factory=dict)
    """The log index of each item's newest ship event."""


@dataclass(slots=True)
class _Line:
    """One item with its chemical resolved, ready to be totalled."""

    code: str
    chemical: str | None
    holder: str | None
    quantity: str | None
    """The state's quantity as decimal text (``str`` of it)."""
    unit: str | None
    hazard: Hazard | None
    kilograms: Decimal | None


class _Lines:
    """Makes the lines of one answer. A chemical's hazard and an amount's kilograms are
    functions of the catalog version, so each is worked out once per answer, not per item."""

    def __init__(self, catalogs: CatalogRegistry, units: CatalogUnits) -> None:
        self._catalogs, self._units = catalogs, units
        self._hazards: dict[tuple[str, str], Hazard | None] = {}
        self._kilograms: dict[tuple[str, str | None, str, str], Decimal | None] = {}

    def of_state(self, state: ItemState, version: str | None) -> _Line:
        quantity = None if state.quantity is None else str(state.quantity)
        return self.line(state.code, state.chemical, state.holder, quantity, state.unit, version)

    def line(
        self, code: str, chemical: str | None, holder: str | None, quantity: str | None,
        unit: str | None, version: str | None,
    ) -> _Line:  # fmt: skip
        hazard = None
        if chemical is not None and version is not None:
            key = (version, chemical)
            if key in self._hazards:
                hazard = self._hazards[key]
            else:
                hazard = self._hazards[key] = self._hazard(version, chemical)
        kilograms = None
        if quantity is not None and unit is not None and version is not None:
            amount = (version, chemical, quantity, unit)
            if amount in self._kilograms:
                kilograms = self._kilograms[amount]
            else:
                kilograms = self._units.kilograms(version, chemical, Decimal(quantity), unit)
                self._kilograms[amount] = kilograms
        return _Line(code, chemical, holder, quantity, unit, hazard, kilograms)

    def _hazard(self, version: str, chemical: str) -> Hazard | None:
        try:
            return hazard_of(self._catalogs.get(version), chemical)
        except (UnknownChemicalError, UnknownCatalogVersionError, CatalogError, LookupError):
            return None


class EmergencyService:
    """Sites and shipments near a point, with what they hold and how dangerous it is."""

    def __init__(
        self, ledger: SqlLedgerStore, catalogs: CatalogRegistry, units: CatalogUnits,
        advice: Advice | None = None, sites: SiteStore | None = None,
        read_model: ItemReadModel | None = None,
    ) -> None:  # fmt: skip
        self._ledger, self._catalogs, self._units = ledger, catalogs, units
        self._read = read_model or ItemReadModel(ledger.engine, units.kilograms)
        self._sites = sites or SiteStore(ledger.engine)
        self._fixes = LastFixes(self._sites, FIX_WINDOW)
        self._advice = advice if advice is not None else shipped_advice()
        self._decoded: dict[bytes, RegistryRecord] = {}

    def nearby(
        self, principal: Principal, *, lat: float, lon: float, radius_m: float,
        at: datetime | None = None,
    ) -> NearbyAnswer:  # fmt: skip
        """Every site within ``radius_m`` of ``(lat, lon)`` in the caller's scope, nearest
        first, with what it holds at ``at`` (default: now), and the shipments in transit
        whose last fix is inside the radius.

        Raises:
            ForbiddenError: the caller is an enterprise or an inspector.
            InvalidInputError: a coordinate, the radius or the time is out of range
                (``field`` names the parameter).
        """
        if principal.role not in READERS:
            raise ForbiddenError(f"role {principal.role} may not query the emergency view; "
                                 "needs admin, regulator, city_regulator or responder")  # fmt: skip
        _check_point(lat, lon, radius_m)
        if at is not None and at.tzinfo is None:
            raise InvalidInputError("at needs a time zone offset", field="at")
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        until = None if at is None else moment
        everywhere = principal.role == "admin" or principal.role in CITY_WIDE
        districts = principal.districts

        places = []
        for place in self._sites.sites_in(search_boxes(lat, lon, radius_m)):
            distance = distance_m(lat, lon, place.lat, place.lon)
            if distance <= radius_m and (everywhere or place.district in districts):
                places.append((distance, place))
        places.sort(key=lambda pair: (pair[0], pair[1].site))
        sites = self._site_answers(places, self._holdings(until, [p.site for _, p in places]))
        shipments = self._shipments(lat, lon, radius_m, moment, until, everywhere, districts)
        return NearbyAnswer(lat=lat, lon=lon, radius_m=radius_m, at=format_utc(moment),
                            sites=sites, shipments=shipments)  # fmt: skip

    def district_sites(self, principal: Principal, district: str, size: int) -> list[NearbySite]:
        """Every site of ``district``, by id, with what it holds after the first ``size``
        log entries (a checkpoint's), totalled exactly as :meth:`nearby` totals a site
        (``distance_m`` is 0: no point was asked).

        Raises:
            NotFoundError: the district has no site, or is outside the caller's scope
                (the two look alike); so is every district to an enterprise or inspector.
        """
        places = self._sites.sites_of_district(district) if _sees(principal, district) else []
        if not places:
            raise NotFoundError("district", district, f"no district {district!r}")
        held = self._read.holdings([p.site for p in places], size=size)
        return self._site_answers([(0.0, place) for place in places], held)

    def packable(self, principal: Principal, districts: Iterable[str]) -> list[str]:
        """Which of ``districts`` the caller may have a responder pack of, sorted."""
        return sorted(d for d in set(districts) if _sees(principal, d))

    # -- folding -------------------------------------------------------------------------------

    def _holdings(self, until: datetime | None, sites: Sequence[str]) -> Sequence[Holding]:
        """The active items at ``sites`` at ``until`` (now when ``None``), in code order:
        exactly what :class:`ledger.state.Projection` folds from the events signed at or
        before that instant, read from the maintained model."""
        if not sites:
            return []
        return self._read.holdings(sites, moment=None if until is None else format_utc(until))

    def _fold(self, until: datetime | None, codes: Iterable[str]) -> _Folded:
        """The states at ``until`` (now when ``None``) of ``codes``, as :meth:`_holdings`
        reads them, with their last ship events."""
        held = self._read.states(moment=None if until is None else format_utc(until),
                                 codes=set(codes))  # fmt: skip
        folded = _Folded({h.state.code: h.state for h in held})
        for h in held:
            folded.versions[h.state.code] = h.version
            if h.last_ship is not None:
                folded.last_ship[h.state.code] = h.last_ship
        return folded

    def _lines(self) -> _Lines:
        return _Lines(self._catalogs, self._units)

    # -- sites ---------------------------------------------------------------------------------

    def _site_answers(
        self, places: Sequence[tuple[float, SitePlace]], holdings: Sequence[Holding]
    ) -> list[NearbySite]:
        held: dict[str, list[_Line]] = {place.site: [] for _, place in places}
        line = self._lines().line
        for h in holdings:
            if h.site in held:
                held[h.site].append(line(h.code, h.chemical, h.holder, h.quantity, h.unit,
                                         h.version))  # fmt: skip
        sites = self._records("site", held)
        orgs = self._records("org", {p.org for _, p in places}
                             | {line.holder or "" for lines in held.values()
                                for line in lines})  # fmt: skip
        answers = []
        for distance, place in places:
            record = sites.get(place.site)
            lines = held[place.site]
            operator = orgs.get(place.org)
            answers.append(NearbySite.model_validate({
                "site": place.site,
                "name": str(record.attr("name")) if record else place.site,
                "organisation": place.org,
                "organisation_name": str(operator.attr("name")) if operator else place.org,
                "district": place.district,
                "lat": place.lat, "lon": place.lon, "distance_m": round(distance, 2),
                "items": [_item(line) for line in lines],
                "totals_by_chemical": _by_chemical(lines),
                "totals_by_hazard_class": _by_class(lines),
                "toxic_inhalation_kg": _kg(_sum(lines, lambda h: h.toxic_inhalation)),
                "flammable_kg": _kg(_sum(lines, lambda h: h.flammable)),
                "emergency_advice": self._advice_of(lines),
                "contacts": _contacts(place, lines, orgs),
            }))  # fmt: skip
        return answers

    def _records(self, kind: str, ids: Iterable[str]) -> Mapping[str, RegistryRecord]:
        """The newest version of each of these records. A body's bytes decode to one
        record, so each is decoded (and checked canonical) once, not on every query."""
        wanted = sorted(i for i in set(ids) if i)
        if not wanted:
            return {}
        found = {}
        decoded = self._decoded
        for record_id, body in self._ledger.record_bodies(kind, wanted).items():
            record = decoded.get(body)
            if record is None:
                if len(decoded) >= RECORD_CACHE:
                    decoded.clear()
                record = decoded[body] = record_from_bytes(body)
            found[record_id] = record
        return found

    def _advice_of(self, lines: Sequence[_Line]) -> list[ChemicalAdvice]:
        seen: dict[str, ChemicalAdvice] = {}
        for line in lines:
            hazard = line.hazard
            if hazard is not None and hazard.code not in seen:
                seen[hazard.code] = ChemicalAdvice(
                    chemical=hazard.code, chemical_name=hazard.chemical.name_cn,
                    advice=advice_for(self._advice, hazard.hazard_class),
                )  # fmt: skip
        return [seen[code] for code in sorted(seen, key=_code_order)]

    # -- shipments -----------------------------------------------------------------------------

    def _shipments(
        self, lat: float, lon: float, radius_m: float, moment: datetime,
        until: datetime | None, everywhere: bool, districts: frozenset[str],
    ) -> list[NearbyShipment]:  # fmt: skip
        fixes = self._fixes.now(moment) if until is None else self._fixes.at(until)
        boxes = search_boxes(lat, lon, radius_m)
        inside: dict[bytes, float] = {}
        for key, fix in fixes.items():
            if not any(b.min_lat <= fix.lat <= b.max_lat and b.min_lon <= fix.lon <= b.max_lon
                       for b in boxes):  # fmt: skip
                continue
            distance = distance_m(lat, lon, fix.lat, fix.lon)
            if distance <= radius_m:
                inside[key] = distance
        if not inside:
            return []
        seen: dict[bytes, tuple[int, Ship]] = {}
        for index, event_hash, envelope in self._sites.events_by_hash(sorted(inside)):
            body = parse_body(envelope["body"])
            if isinstance(body, Ship):  # a waypoint naming no ship event names nothing here
                seen[event_hash] = (index, body)
        near = [(inside[key], key, ship) for key, (_, ship) in seen.items()]
        if not everywhere:
            near = self._in_districts(near, districts)
        folded = self._fold(until, {link.code for _, _, ship in near for link in ship.items})
        answers = []
        make = self._lines()
        for distance, ship_hash, ship in sorted(near, key=lambda n: (n[0], n[1])):
            lines = [
                make.of_state(state, folded.versions.get(link.code))
                for link in ship.items
                if (state := folded.states.get(link.code)) is not None
                and state.status == "in_transit"
                and folded.last_ship.get(link.code) == seen[ship_hash][0]
            ]
            if not lines:
                continue  # received (or returned, or shipped on) by then
            last = fixes[ship_hash]
            answers.append(NearbyShipment(
                waybill=ship.data.waybill_no, carrier=ship.data.carrier,
                vehicle=ship.data.vehicle, codes=sorted(line.code for line in lines),
                last_fix=Fix(lat=last.lat, lon=last.lon, at=format_utc(last.when)),
                distance_m=round(distance, 2), totals_by_chemical=_by_chemical(lines),
            ))  # fmt: skip
        return answers

    def _in_districts(
        self, near: list[tuple[float, bytes, Ship]], districts: frozenset[str]
    ) -> list[tuple[float, bytes, Ship]]:
        """The shipments a district regulator sees: a party or a site in its districts."""
        parties = {o for _, _, s in near for o in (s.org, s.data.carrier, s.data.consignee)}
        ends = {x for _, _, s in near for x in (s.site or "", s.data.consignee_site)}
        orgs, sites = self._records("org", parties), self._records("site", ends)

        def seen(ship: Ship) -> bool:
            named = [orgs.get(o) for o in (ship.org, ship.data.carrier, ship.data.consignee)]
            places = [sites.get(x) for x in (ship.site or "", ship.data.consignee_site)]
            return any(r is not None and r.attr("district") in districts
                       for r in (*named, *places))  # fmt: skip

        return [entry for entry in near if seen(entry[2])]


# -- helpers ---------------------------------------------------------------------------------


def _check_point(lat: float, lon: float, radius_m: float) -> None:
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InvalidInputError("lat must be a WGS-84 latitude in [-90, 90]", field="lat")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InvalidInputError("lon must be a WGS-84 longitude in [-180, 180]", field="lon")
    if not (math.isfinite(radius_m) and 0.0 < radius_m <= MAX_RADIUS_M):
        raise InvalidInputError(
            f"radius_m must be more than 0 and at most {MAX_RADIUS_M:.0f} (metres)",
            field="radius_m",
        )


def _code_order(code: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in code.split("."))
    except ValueError:
        return (1 << 30,)


def _kg(value: Decimal) -> str:
    return str(value)


def _sum(lines: Iterable[_Line], which: Any) -> Decimal:
    return sum((line.kilograms or ZERO for line in lines
                if line.hazard is not None and which(line.hazard)), ZERO)  # fmt: skip


def _item(line: _Line) -> dict[str, str | None]:
    """A :class:`NearbyItem` as its fields: the site validates its list of them in one call,
    twice as fast as a model per item (an answer at 2 km has thousands)."""
    hazard = line.hazard
    chemical = hazard.chemical if hazard else None
    return {
        "code": line.code, "chemical": line.chemical or "",
        "chemical_name": chemical.name_cn if chemical else (line.chemical or ""),
        "chemical_name_en": chemical.name_en if chemical else None,
        "cas": chemical.cas if chemical else None, "un": hazard.un if hazard else None,
        "quantity": line.quantity if line.quantity is not None else str(ZERO),
        "unit": line.unit or "",
        "kilograms": None if line.kilograms is None else str(line.kilograms),
    }  # fmt: skip


def _by_chemical(lines: Sequence[_Line]) -> list[ChemicalTotal]:
    totals: dict[str, tuple[_Line, int, Decimal]] = {}
    for line in lines:
        code = line.chemical or ""
        first, count, kg = totals.get(code, (line, 0, ZERO))
        totals[code] = (first, count + 1, kg + (line.kilograms or ZERO))
    answer = []
    for code in sorted(totals, key=_code_order):
        first, count, kg = totals[code]
        hazard = first.hazard
        answer.append(ChemicalTotal(
            chemical=code, chemical_name=hazard.chemical.name_cn if hazard else code,
            cas=hazard.chemical.cas if hazard else None, un=hazard.un if hazard else None,
            items=count, kilograms=_kg(kg),
        ))  # fmt: skip
    return answer


def _by_class(lines: Sequence[_Line]) -> list[HazardClassTotal]:
    totals: dict[str, tuple[int, Decimal]] = {}
    for line in lines:
        key = line.hazard.hazard_class if line.hazard else "unknown"
        count, kg = totals.get(key, (0, ZERO))
        totals[key] = (count + 1, kg + (line.kilograms or ZERO))
    return [HazardClassTotal(hazard_class=k, items=v[0], kilograms=_kg(v[1]))
            for k, v in sorted(totals.items())]  # fmt: skip


def _contacts(
    place: SitePlace, lines: Sequence[_Line], orgs: Mapping[str, RegistryRecord]
) -> list[Contact]:
    """Who answers for the site, from the registry's public fields: the operating
    organisation and any other holder of what is there. The registry keeps no phone
    numbers (a person's is personal data, kept only as a commitment), so ``phone`` is
    null until it gains a public duty line."""

    def named(role: str, org: str) -> Contact:
        record = orgs.get(org)
        return Contact(role=role, name=str(record.attr("name")) if record else org, phone=None)

    contacts = [named("site_operator", place.org)]
    holders = sorted({line.holder for line in lines if line.holder} - {place.org})
    contacts.extend(named("holder", org) for org in holders)
    return contacts


__all__ = [
    "FIX_WINDOW",
    "MAX_RADIUS_M",
    "EmergencyService",
    "NearbyAnswer",
    "NearbySite",
]


def _sees(principal: Principal, district: str) -> bool:
    """Whether the caller may see the sites of ``district`` (the nearby view's scope)."""
    everywhere = principal.role == "admin" or principal.role in CITY_WIDE
    return principal.role in READERS and (everywhere or district in principal.districts)
