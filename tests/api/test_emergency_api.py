"""``GET /v1/emergency/nearby`` over real HTTP, on SQLite and on PostgreSQL (+ Redis).

One seeded world per backend (tests/api/live.py) plus sites placed around Tiananmen at
known geodesic distances, items on them, and shipments whose GPS track ends inside or
outside the radius. Positions are made with GeographicLib's direct problem and written
as a site record writes them (7 decimals); expected distances are the service's own
function on those very numbers, so the edge cases are exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from geographiclib.geodesic import Geodesic

from api.catalogs import load_rules
from api.services.emergency import FIX_WINDOW
from ledger.geo import distance_m
from tests.api.live import BACKENDS, World, shared_server

PROBLEM_JSON = "application/problem+json"
CENTRE = (39.9087, 116.3975)  # Tiananmen, WGS-84
RADIUS = 500.0


def place(distance: float, azimuth: float) -> tuple[str, str]:
    """The point ``distance`` m from the centre at ``azimuth`` degrees, as record text."""
    point = Geodesic.WGS84.Direct(*CENTRE, azimuth, distance)
    return f"{point['lat2']:.7f}", f"{point['lon2']:.7f}"


def metres(lat: str, lon: str) -> float:
    return distance_m(*CENTRE, float(lat), float(lon))


SITES = {
    # id: (org, district, distance m, azimuth)
    "em-near": ("p-chem", "d1", 100.0, 0.0),
    "em-mid": ("u-lab", "d2", 300.0, 90.0),
    "em-edge": ("t-trade", "d1", 500.0, 200.0),
    "em-out": ("t-trade", "d1", 501.0, 270.0),
    "em-far": ("p-chem", "d1", 2000.0, 45.0),
}


def _now(offset_s: float = 0.0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Scene:
    world: World
    http: httpx.Client
    tokens: dict[str, str | None]
    coords: dict[str, tuple[str, str]]
    codes: dict[str, str] = field(default_factory=dict)
    times: dict[str, str] = field(default_factory=dict)

    def call(self, role: str, **params: Any) -> httpx.Response:
        token = self.tokens[role]
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.http.get("/v1/emergency/nearby", params=params, headers=headers)

    def nearby(self, role: str = "responder", **params: Any) -> dict[str, Any]:
        query = {"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": RADIUS, **params}
        response = self.call(role, **query)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def _commission(world: World, org: str, site: str, form: str, kg: str, time: str) -> str:
    (code,) = world.issue(org, 1, form=form)
    actor = world.actors[org]
    actor.client.submit(actor.device.event("commission", [code], {
        "chemical": form, "quantity": {"value": kg, "unit": "kg"}, "lot": "L-EM",
        "packaging": "cylinder"}, time=time, site=site))  # fmt: skip
    return code


def _ship(world: World, code: str, site: str, time: str, geo: tuple[str, str]) -> str:
    actor = world.actors["p-chem"]
    batch = actor.client.submit_batch([actor.device.event("ship", [code], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site",
        "waybill_no": f"EW-{code[-5:]}", "vehicle": "京A12345"}, time=time, site=site,
        geo={"lat": geo[0], "lon": geo[1]})])  # fmt: skip
    assert batch.accepted == 1, batch
    return str(batch.results[0]["receipt"]["entry_hash"])


def _waypoint(world: World, code: str, ship: str, time: str, geo: tuple[str, str]) -> None:
    carrier = world.actors["c-move"]
    carrier.client.submit(carrier.device.event("waypoint", [code], {"ship": ship}, time=time,
                                               geo={"lat": geo[0], "lon": geo[1]}))  # fmt: skip


def _build(world: World, http: httpx.Client) -> Scene:
    admin = world.admin
    coords = {}
    for site, (org, district, distance, azimuth) in SITES.items():
        lat, lon = place(distance, azimuth)
        coords[site] = (lat, lon)
        admin.put_site(site, org=org, name=f"{site} 仓库", address="1 Test Road",
                       district=district, lat=lat, lon=lon, capacity_t="10",
                       major_hazard=False)  # fmt: skip
    for user, role, districts in (
        ("em-responder", "responder", []),
        ("em-city", "city_regulator", []),
    ):
        admin.put_user(user, role=role, districts=districts, name=f"{user} desk")
    tokens: dict[str, str | None] = {
        "anon": None,
        "admin": world.server.admin_token,
        "responder": admin.issue_token("em-responder"),
        "city": admin.issue_token("em-city"),
        "reg_d1": world.regulators["d1"].token,
        "reg_d2": world.regulators["d2"].token,
        "enterprise": world.actors["p-chem"].client.token,
        "inspector": world.actors["d1-inspect"].client.token,
    }
    scene = Scene(world, http, tokens, coords)
    t = ["2026-10-02T08:00:00Z", "2026-10-02T09:00:00Z", "2026-10-02T10:00:00Z"]
    scene.times = {"before": "2026-10-02T07:00:00Z", "t0": t[0], "t1": t[1], "t2": t[2]}
    # em-near: chlorine (toxic by inhalation, 2.3) and hydrogen (flammable, 2.1)
    scene.codes["chlorine"] = _commission(world, "p-chem", "em-near", "1.1", "40", t[0])
    scene.codes["hydrogen"] = _commission(world, "p-chem", "em-near", "4.1", "8", t[0])
    scene.codes["gasoline"] = _commission(world, "u-lab", "em-mid", "3.1", "150", t[0])
    scene.codes["edge"] = _commission(world, "t-trade", "em-edge", "1.1", "5", t[0])
    scene.codes["out"] = _commission(world, "t-trade", "em-out", "1.1", "5", t[0])
    scene.codes["far"] = _commission(world, "p-chem", "em-far", "1.1", "5", t[0])
    # at em-near at t0; shipped away at t1, long ago: in no answer "now"
    scene.codes["left"] = _commission(world, "p-chem", "em-near", "1.1", "20", t[0])
    _ship(world, scene.codes["left"], "em-near", t[1], coords["em-near"])
    # shipped recently: its last fix is inside (at em-mid's gate) ...
    scene.codes["inside"] = _commission(world, "p-chem", "em-near", "1.1", "30", t[0])
    ship = _ship(world, scene.codes["inside"], "em-near", _now(-600), coords["em-near"])
    _waypoint(world, scene.codes["inside"], ship, _now(-300), coords["em-mid"])
    # ... this one started inside, and its last fix is 2 km away ...
    scene.codes["gone"] = _commission(world, "p-chem", "em-near", "4.1", "8", t[0])
    ship = _ship(world, scene.codes["gone"], "em-near", _now(-600), coords["em-near"])
    _waypoint(world, scene.codes["gone"], ship, _now(-300), coords["em-far"])
    # ... this one's only fix is inside but three hours old: its track is lost ...
    scene.codes["silent"] = _commission(world, "p-chem", "em-near", "1.1", "6", t[0])
    _ship(world, scene.codes["silent"], "em-near", _now(-3 * 3600), coords["em-near"])
    # ... and this one's fix is inside but the load was received
    scene.codes["arrived"] = _commission(world, "p-chem", "em-near", "1.1", "10", t[0])
    ship = _ship(world, scene.codes["arrived"], "em-near", _now(-600), coords["em-near"])
    lab = world.actors["u-lab"]
    lab.client.submit(lab.device.event("receive", [scene.codes["arrived"]], {"ship": ship},
                                       time=_now(-120), site="u-lab-site"))  # fmt: skip
    return scene


@pytest.fixture(scope="module", params=BACKENDS)
def scene(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scene]:
    home = tmp_path_factory.mktemp("emergency")
    with shared_server(request, home, str(request.param), CHEMTRACE_FINDINGS="false") as pair:
        server, world = pair
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            yield _build(world, http)


def _sites(body: dict[str, Any]) -> list[str]:
    return [s["site"] for s in body["sites"]]


def _site(body: dict[str, Any], site: str) -> dict[str, Any]:
    (found,) = [s for s in body["sites"] if s["site"] == site]
    return found


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    return problem


# -- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "sites"),
    [
        ("admin", ["em-near", "em-mid", "em-edge"]),
        ("responder", ["em-near", "em-mid", "em-edge"]),
        ("city", ["em-near", "em-mid", "em-edge"]),
        ("reg_d1", ["em-near", "em-edge"]),
        ("reg_d2", ["em-mid"]),
    ],
)
def test_readers_see_the_sites_of_their_scope_nearest_first(
    scene: Scene, role: str, sites: list[str]
) -> None:
    assert _sites(scene.nearby(role)) == sites


@pytest.mark.parametrize(
    ("role", "status", "code"),
    [("enterprise", 403, "forbidden"), ("inspector", 403, "forbidden"),
     ("anon", 401, "unauthenticated")],
)  # fmt: skip
def test_enterprises_and_inspectors_are_refused(
    scene: Scene, role: str, status: int, code: str
) -> None:
    response = scene.call(role, lat=CENTRE[0], lon=CENTRE[1], radius_m=RADIUS)
    _problem(response, status, code)


# -- distance --------------------------------------------------------------------------------------


def test_sites_are_sorted_by_geodesic_distance_with_their_place(scene: Scene) -> None:
    body = scene.nearby(radius_m=5000)
    assert _sites(body) == ["em-near", "em-mid", "em-edge", "em-out", "em-far"]
    for entry in body["sites"]:
        lat, lon = scene.coords[entry["site"]]
        assert entry["distance_m"] == pytest.approx(metres(lat, lon), abs=0.01)
        assert (entry["lat"], entry["lon"]) == (float(lat), float(lon))
    near = _site(body, "em-near")
    assert near["name"] == "em-near 仓库" and near["organisation"] == "p-chem"
    assert near["organisation_name"] == "p-chem Ltd" and near["district"] == "d1"
    assert body["lat"] == CENTRE[0] and body["radius_m"] == 5000


def test_the_radius_includes_its_edge_and_not_a_metre_beyond(scene: Scene) -> None:
    edge = metres(*scene.coords["em-edge"])
    assert edge == pytest.approx(500.0, abs=0.05)
    assert "em-edge" in _sites(scene.nearby(radius_m=edge))
    assert "em-edge" not in _sites(scene.nearby(radius_m=edge - 1))
    out = metres(*scene.coords["em-out"])  # 501 m: one metre out of a 500 m radius
    assert "em-out" not in _sites(scene.nearby(radius_m=out - 1))
    assert "em-out" in _sites(scene.nearby(radius_m=out))


# -- holdings ----------------------------------------------------------------------------------


def test_a_site_shows_its_items_totals_hazards_advice_and_contacts(scene: Scene) -> None:
    near = _site(scene.nearby(), "em-near")
    held = {item["code"]: item for item in near["items"]}
    assert set(held) == {scene.codes["chlorine"], scene.codes["hydrogen"]}
    chlorine = held[scene.codes["chlorine"]]
    assert chlorine["chemical"] == "1.1" and chlorine["cas"] == "7782-50-5"
    assert chlorine["un"] == "UN1017" and chlorine["chemical_name_en"] == "Chlorine"
    assert (chlorine["quantity"], chlorine["unit"], chlorine["kilograms"]) == ("40", "kg", "40")
    assert {(t["chemical"], t["items"], t["kilograms"]) for t in near["totals_by_chemical"]} == {
        ("1.1", 1, "40"), ("4.1", 1, "8")}  # fmt: skip
    assert {(t["hazard_class"], t["items"], t["kilograms"])
            for t in near["totals_by_hazard_class"]} == {("2.3", 1, "40"), ("2.1", 1, "8")}  # fmt: skip
    assert near["toxic_inhalation_kg"] == "40" and near["flammable_kg"] == "8"
    advice = {a["chemical"]: a["advice"] for a in near["emergency_advice"]}
    assert "有毒气体" in advice["1.1"] and "Toxic gas" in advice["1.1"]
    assert "Flammable gas" in advice["4.1"]
    assert near["contacts"] == [{"role": "site_operator", "name": "p-chem Ltd", "phone": None}]
    gasoline = _site(scene.nearby(), "em-mid")
    assert gasoline["flammable_kg"] == "150" and gasoline["toxic_inhalation_kg"] == "0"


def test_at_a_past_time_shows_what_was_there_then(scene: Scene) -> None:
    then = scene.nearby(at=scene.times["t0"])  # before "left" was shipped away
    codes = {item["code"] for item in _site(then, "em-near")["items"]}
    assert scene.codes["left"] in codes and scene.codes["inside"] in codes
    assert then["at"] == "2026-10-02T08:00:00.000000Z"
    before = scene.nearby(at=scene.times["before"])  # before anything was commissioned
    assert all(site["items"] == [] for site in before["sites"])
    later = scene.nearby(at=scene.times["t2"])
    assert scene.codes["left"] not in {i["code"] for i in _site(later, "em-near")["items"]}
    now = {i["code"] for i in _site(scene.nearby(), "em-near")["items"]}
    assert not now & {scene.codes[n] for n in ("left", "inside", "gone", "arrived", "silent")}


def test_an_offset_time_is_the_same_instant_and_answered_in_utc(scene: Scene) -> None:
    utc = scene.nearby(at="2026-10-02T08:00:00Z")
    beijing = scene.nearby(at="2026-10-02T16:00:00+08:00")
    assert beijing == utc and beijing["at"] == "2026-10-02T08:00:00.000000Z"


# -- shipments ---------------------------------------------------------------------------------


def test_shipments_in_transit_with_their_last_fix_inside_the_radius(scene: Scene) -> None:
    body = scene.nearby()
    (shipment,) = body["shipments"]
    assert shipment["codes"] == [scene.codes["inside"]]
    assert shipment["carrier"] == "c-move" and shipment["vehicle"] == "京A12345"
    assert shipment["waybill"] == f"EW-{scene.codes['inside'][-5:]}"
    lat, lon = scene.coords["em-mid"]
    assert (shipment["last_fix"]["lat"], shipment["last_fix"]["lon"]) == (float(lat), float(lon))
    assert shipment["distance_m"] == pytest.approx(metres(lat, lon), abs=0.01)
    assert shipment["totals_by_chemical"] == [{"chemical": "1.1", "chemical_name": "氯(液氯、氯气)",
                                               "cas": "7782-50-5", "un": "UN1017", "items": 1,
                                               "kilograms": "30"}]  # fmt: skip


def test_a_shipment_whose_last_fix_is_outside_shows_when_the_radius_reaches_it(
    scene: Scene,
) -> None:
    wide = scene.nearby(radius_m=2500)
    codes = [s["codes"] for s in wide["shipments"]]
    assert codes == [[scene.codes["inside"]], [scene.codes["gone"]]]  # nearest first
    assert all(scene.codes["arrived"] not in c for c in codes)  # received: not in transit


def test_a_fix_older_than_the_track_silence_is_no_position(scene: Scene) -> None:
    codes = [c for s in scene.nearby(radius_m=2500)["shipments"] for c in s["codes"]]
    assert scene.codes["silent"] not in codes


def test_at_a_past_time_the_shipments_then_are_shown(scene: Scene) -> None:
    then = scene.nearby(at="2026-10-02T10:00:00+00:00")  # an hour after "left" was shipped
    (shipment,) = then["shipments"]
    assert shipment["codes"] == [scene.codes["left"]]
    assert shipment["last_fix"]["at"] == "2026-10-02T09:00:00.000000Z"
    assert scene.nearby(at="2026-10-02T11:00:01Z")["shipments"] == []  # silent for > 2 h


def test_the_fix_window_is_the_rules_track_silence() -> None:
    rules = load_rules()
    assert timedelta(hours=float(rules.shipping.track_silence_hours)) == FIX_WINDOW


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "90.5"}, "lat"),
        ({"lat": "-91"}, "lat"),
        ({"lat": "abc"}, "lat"),
        ({"lat": "nan"}, "lat"),
        ({"lon": "180.01"}, "lon"),
        ({"lon": "inf"}, "lon"),
        ({"radius_m": "0"}, "radius_m"),
        ({"radius_m": "-5"}, "radius_m"),
        ({"radius_m": "50001"}, "radius_m"),
        ({"at": "2026-10-02T08:00:00"}, "at"),  # no offset
        ({"at": "2026-10-02 08:00"}, "at"),
        ({"at": "2026-02-30T08:00:00Z"}, "at"),
        ({"at": "yesterday"}, "at"),
    ],
)
def test_out_of_range_parameters_are_422_naming_the_parameter(
    scene: Scene, params: dict[str, str], field: str
) -> None:
    query = {"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": RADIUS, **params}
    problem = _problem(scene.call("responder", **query), 422, problem_code(field, params))
    assert problem["field"] == field


def problem_code(field: str, params: dict[str, str]) -> str:
    """FastAPI refuses what is not a number (``invalid_request``); the service what is out
    of range (``invalid_input``); the route a time that is not RFC 3339."""
    value = params[field]
    if field == "at":
        return "invalid_request"
    try:
        float(value)
    except ValueError:
        return "invalid_request"
    return "invalid_input"


def test_a_missing_parameter_is_422(scene: Scene) -> None:
    problem = _problem(scene.call("responder", lat=CENTRE[0], lon=CENTRE[1]), 422,
                       "invalid_request")  # fmt: skip
    assert problem["field"] == "radius_m"


def test_the_largest_radius_is_accepted(scene: Scene) -> None:
    assert "em-far" in _sites(scene.nearby(radius_m=50_000))


# -- last: this test adds to the world (and takes it back) -------------------------------------


def test_a_track_logged_after_a_query_is_seen_by_the_next(scene: Scene) -> None:
    before = [c for s in scene.nearby()["shipments"] for c in s["codes"]]  # the fixes are read
    world = scene.world
    code = _commission(world, "p-chem", "em-far", "1.1", "12", _now(-900))
    ship = _ship(world, code, "em-far", _now(-800), scene.coords["em-far"])
    assert code not in [c for s in scene.nearby()["shipments"] for c in s["codes"]]
    _waypoint(world, code, ship, _now(-60), scene.coords["em-mid"])  # now 300 m away
    after = {c: s for s in scene.nearby()["shipments"] for c in s["codes"]}
    assert code in after and after[code]["last_fix"]["lat"] == float(scene.coords["em-mid"][0])
    lab = world.actors["u-lab"]
    lab.client.submit(lab.device.event("receive", [code], {"ship": ship}, time=_now(-1),
                                       site="u-lab-site"))  # fmt: skip
    assert [c for s in scene.nearby()["shipments"] for c in s["codes"]] == before
