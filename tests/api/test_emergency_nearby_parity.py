"""``EmergencyService.nearby`` answers exactly as the full answer would, on random ledgers.

The service reads holdings from the item-state read model through its site indexes,
works a chemical's hazard and an amount's kilograms out once per answer and keeps decoded
registry records. The reference here does none of that: every site is a candidate (no
spatial index), holdings are the full replay of the log up to the time asked (the
definition the read model must keep), and registry records are decoded on every call. On
random plays (items commissioned, used, moved between sites, shipped with a GPS fix and
received, lost, disposed, transformed, times going back), now and at times through the
plan, for every role and scope, the two answers are equal, field for field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.services.access import Principal
from api.services.emergency import EmergencyService, _Folded, _Lines
from api.services.errors import ForbiddenError
from ledger.canonical import JsonValue
from ledger.geo import Box
from ledger.records import RegistryRecord, issue_record
from ledger.signing import ED25519
from ledger.state import Projection
from ledger.store.catalog_files import load_registry
from ledger.store.readmodel import Holding
from ledger.store.service import ServiceStore
from ledger.store.sites import SitePlace, SiteStore
from ledger.timefmt import format_utc, parse_utc
from ledger.units import CatalogUnits
from tests.harness import Harness
from tests.ledger.store.test_readmodel import ORGS, Op, World, ops, signed_time

CATALOG = "2026-draft.1"
CENTRE = (39.9087, 116.3975)
SITE_PLACES = {
    # site: (district, lat, lon): about 0 m, 390 m and 1.1 km from the centre
    "site-a": ("d1", "39.9087000", "116.3975000"),
    "site-b": ("d2", "39.9122000", "116.3975000"),
    "site-c": ("d1", "39.9087000", "116.4104000"),
}
RADII = (50.0, 500.0, 2000.0)
PRINCIPALS = (
    Principal("admin", "admin", None, frozenset()),
    Principal("city", "city_regulator", None, frozenset()),
    Principal("resp", "responder", None, frozenset()),
    Principal("reg-d1", "regulator", None, frozenset({"d1"})),
    Principal("reg-d2", "regulator", None, frozenset({"d2", "d9"})),
)


@pytest.fixture(params=["sqlite", "postgres"])
def harness(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Harness]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    harness = Harness.create(url)
    yield harness
    harness.store.engine.dispose()


@pytest.fixture
def city(harness: Harness) -> City:
    return City(harness)


class City(World):
    """The read model's random world, on the shipped catalog, with places: its sites in
    two districts around Tiananmen, organisation records, and a GPS fix on every ship."""

    def __init__(self, harness: Harness) -> None:
        super().__init__(harness)
        self.devices = {org: dataclasses.replace(device, catalog_version=CATALOG)
                        for org, device in self.devices.items()}  # fmt: skip
        root = (ED25519, harness.root.public_key)
        for n, org in enumerate(ORGS):
            record = issue_record(harness.root, "org", org, {
                "name": f"企业 {n}", "type": "warehouse", "district": f"d{1 + n % 2}",
                "status": "active",
            })  # fmt: skip
            harness.store.append_record(record, root=root, log_signer=harness.log)
        for site, (district, lat, lon) in SITE_PLACES.items():
            record = issue_record(harness.root, "site", site, {
                "org": ORGS[0], "name": f"仓库 {site}", "address": "1 Road",
                "district": district, "lat": lat, "lon": lon, "capacity_t": "10",
                "major_hazard": False,
            })  # fmt: skip
            harness.store.append_record(record, root=root, log_signer=harness.log)

    def envelope(self, op: Op, prefix: str) -> dict[str, JsonValue]:
        kind, item, org, other, minute, style = op
        if kind != "ship":
            return super().envelope(op, prefix)
        code, device = f"{prefix}-{item}", self.devices[ORGS[org]]
        site = ("site-a", "site-b")[other % 2]
        _, lat, lon = SITE_PLACES[site]
        data: dict[str, JsonValue] = {
            "carrier": ORGS[(org + 1) % 3],
            "consignee": ORGS[(org + 2) % 3],
            "consignee_site": ("site-a", "site-b")[(other + 1) % 2],
        }
        return device.event("ship", [code], data, time=signed_time(minute, style), site=site,
                            geo={"lat": lat, "lon": lon})  # fmt: skip


class EverySite(SiteStore):
    """Every site a candidate: the distance alone decides."""

    def sites_in(self, boxes: Sequence[Box]) -> list[SitePlace]:
        return [place for district in ("d1", "d2") for place in self.sites_of_district(district)]


class FullAnswer(EmergencyService):
    """The answer by definition: holdings folded from the whole log up to the time asked,
    every line worked out afresh, every record decoded on each call."""

    def _holdings(self, until: datetime | None, sites: Sequence[str]) -> Sequence[Holding]:
        folded = self._fold(until, ())
        return [
            Holding(code, state.chemical, state.holder, state.site or "", None if state.quantity
                    is None else str(state.quantity), state.unit, folded.versions[code])
            for code, state in sorted(folded.states.items())
            if state.status == "active" and state.site in sites
        ]  # fmt: skip

    def _fold(self, until: datetime | None, codes: Iterable[str]) -> _Folded:
        projection = Projection(kilograms=self._units.kilograms)
        folded = _Folded(projection.items)
        for logged in ServiceStore(self._ledger.engine).all_events():
            body = logged.event.body
            if until is not None and parse_utc(body.time) > until:
                continue
            projection.apply(body)
            for link in body.items:
                folded.versions[link.code] = body.catalog_version
                if body.type == "ship":
                    folded.last_ship[link.code] = logged.index
        return folded

    def _lines(self) -> _Lines:
        return _Afresh(self._catalogs, self._units)

    def _records(self, kind: str, ids: Any) -> Mapping[str, RegistryRecord]:
        wanted = sorted(i for i in set(ids) if i)
        return self._ledger.records(kind, wanted) if wanted else {}


class _Afresh(_Lines):
    def line(self, *fields: Any) -> Any:
        self._hazards.clear()
        self._kilograms.clear()
        return super().line(*fields)


def _times(plan: list[Op]) -> list[datetime | None]:
    minutes = sorted({op[4] for op in plan} | {-30, 40, 500})
    return [None, *(parse_utc(signed_time(m, 0)) for m in minutes)]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=ops, radius=st.sampled_from(RADII))
def test_nearby_answers_as_the_full_replay_for_every_scope_and_time(
    city: City, plan: list[Op], radius: float
) -> None:
    harness = city.harness
    catalogs = load_registry()
    units = CatalogUnits(catalogs)
    fast = EmergencyService(harness.store, catalogs, units)
    full = FullAnswer(harness.store, catalogs, units, sites=EverySite(harness.store.engine))
    city.play(
        plan,
        f"P{next(city.round)}",
        lambda: fast.nearby(PRINCIPALS[0], lat=CENTRE[0], lon=CENTRE[1], radius_m=radius),
    )
    for at in _times(plan):
        for principal in PRINCIPALS:
            got = fast.nearby(principal, lat=CENTRE[0], lon=CENTRE[1], radius_m=radius, at=at)
            want = full.nearby(principal, lat=CENTRE[0], lon=CENTRE[1], radius_m=radius, at=at)
            got_json, want_json = got.model_dump(), want.model_dump()
            if at is None:  # "now" is each call's own clock
                got_json.pop("at"), want_json.pop("at")
            assert got_json == want_json, (principal.role, principal.districts, at)
    for role in ("enterprise", "inspector"):
        with pytest.raises(ForbiddenError):
            fast.nearby(Principal("x", role, ORGS[0], frozenset()), lat=CENTRE[0],
                        lon=CENTRE[1], radius_m=radius)  # fmt: skip


def test_the_plays_reach_every_state_the_answer_shows(city: City) -> None:
    """One fixed play: an item moved, one in transit with its fix, one used, one disposed,
    one transformed; the answers at its times hold each kind (the property above is not
    vacuous)."""
    harness = city.harness
    plan: list[Op] = [
        ("ship", 0, 0, 0, 70, 0), ("receive", 0, 2, 1, 75, 0),  # site-a -> site-b
        ("ship", 1, 1, 1, 80, 0),  # in transit from site-b
        ("use", 2, 2, 2, 85, 1), ("dispose", 3, 0, 3, 86, 2),
        ("transform", 4, 1, 0, 87, 0),
    ]  # fmt: skip
    assert city.play(plan, "FIX", lambda: None) == 11
    catalogs = load_registry()
    units = CatalogUnits(catalogs)
    fast = EmergencyService(harness.store, catalogs, units)
    full = FullAnswer(harness.store, catalogs, units, sites=EverySite(harness.store.engine))
    at = parse_utc(signed_time(100, 0))
    answer = fast.nearby(PRINCIPALS[0], lat=CENTRE[0], lon=CENTRE[1], radius_m=2000, at=at)
    assert answer == full.nearby(PRINCIPALS[0], lat=CENTRE[0], lon=CENTRE[1], radius_m=2000,
                                 at=at)  # fmt: skip
    held = {s.site: sorted(i.code for i in s.items) for s in answer.sites}
    print(held, answer.shipments)
    assert "FIX-0" in held["site-b"]  # moved
    assert "FIX-3" not in {c for codes in held.values() for c in codes}  # disposed
    assert [s.codes for s in answer.shipments] == [["FIX-1"]]  # in transit, its fix inside
    assert {s.site for s in answer.sites} == set(SITE_PLACES)
    scoped = fast.nearby(PRINCIPALS[3], lat=CENTRE[0], lon=CENTRE[1], radius_m=2000, at=at)
    assert {s.site for s in scoped.sites} == {"site-a", "site-c"}  # d1 only
    assert format_utc(at) == answer.at
