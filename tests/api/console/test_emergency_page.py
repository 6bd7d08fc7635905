"""The emergency page renders the nearby answer of the team contract
(``service.emergency.nearby``), and refuses the roles the API refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from api.services.access import Principal
from tests.api.console.conftest import Demo, login

ANSWER: dict[str, Any] = {
    "lat": 39.9097, "lon": 116.6566, "radius_m": 800.0, "at": "2026-12-07T08:00:00Z",
    "sites": [{
        "site": "tongzhou-depot", "name": "Tongzhou Depot", "organisation": "tongzhou-store",
        "organisation_name": "Tongzhou Store", "district": "tongzhou", "lat": 39.9097,
        "lon": 116.6566, "distance_m": 12.4,
        "items": [{"code": "X", "chemical": "1", "chemical_name": "氯", "chemical_name_en":
                   "Chlorine", "cas": "7782-50-5", "un": "1017", "quantity": "40", "unit": "kg",
                   "kilograms": "40"}],
        "totals_by_chemical": [{"chemical": "1", "chemical_name": "氯", "cas": "7782-50-5",
                                "un": "1017", "items": 1, "kilograms": "40"}],
        "totals_by_hazard_class": [{"hazard_class": "2.3", "items": 1, "kilograms": "40"}],
        "toxic_inhalation_kg": "40", "flammable_kg": "0",
        "emergency_advice": [{"chemical": "1", "chemical_name": "氯",
                              "advice": "Evacuate downwind <at once>"}],
        "contacts": [{"role": "safety_officer", "name": None, "phone": "010-1234"}],
    }],
    "shipments": [{"waybill": "WB-1", "carrier": "anxin-logistics", "vehicle": "jing-a-d1234",
                   "codes": ["Y"], "last_fix": {"lat": 39.91, "lon": 116.65,
                                               "at": "2026-12-07T07:59:00Z"},
                   "distance_m": 300.0, "totals_by_chemical": []}],
}  # fmt: skip


class _Answer:
    def model_dump(self, mode: str) -> dict[str, Any]:
        assert mode == "json"
        return ANSWER


class FakeEmergency:
    """Stands in for ``api.services.emergency.EmergencyService`` (the contract's shape)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float, float]] = []

    def nearby(self, principal: Principal, *, lat: float, lon: float, radius_m: float,
               at: datetime | None = None) -> _Answer:  # fmt: skip
        self.calls.append((principal.user_id, lat, lon, radius_m))
        return _Answer()


@pytest.fixture
def fake(demo: Demo) -> Iterator[FakeEmergency]:
    if hasattr(demo.service, "emergency"):
        pytest.skip("the real emergency service is merged: test_real_service covers it")
    stand_in = FakeEmergency()
    demo.service.emergency = stand_in  # type: ignore[attr-defined]
    yield stand_in
    del demo.service.emergency  # type: ignore[attr-defined]


def test_the_sheet_shows_the_nearby_answer(demo: Demo, fake: FakeEmergency) -> None:
    client = login(demo.browser(), demo.tokens["regulator-city"])
    page = client.get("/console/emergency?lat=39.9097&lon=116.6566&radius_m=800&lang=en")
    assert page.status_code == 200
    assert fake.calls == [("regulator-city", 39.9097, 116.6566, 800.0)]
    html = page.text
    for shown in ("Tongzhou Depot", "7782-50-5", "2.3: 40 kg", "010-1234", "WB-1",
                  "Toxic by inhalation (kg): 40", "UTC+8"):  # fmt: skip
        assert shown in html, shown
    assert "Evacuate downwind &lt;at once&gt;" in html  # autoescaped
    assert 'id="print"' in html


def test_no_point_no_query(demo: Demo, fake: FakeEmergency) -> None:
    client = login(demo.browser(), demo.tokens["regulator-city"])
    assert client.get("/console/emergency").status_code == 200
    assert fake.calls == []


def test_enterprises_and_inspectors_may_not_ask(demo: Demo, fake: FakeEmergency) -> None:
    client = login(demo.browser(), demo.tokens["huabei-trade-ops"])
    assert client.get("/console/emergency?lat=39.9&lon=116.6").status_code == 403
    assert fake.calls == []


def test_real_service(demo: Demo) -> None:
    pytest.importorskip("api.services.emergency")
    client = login(demo.browser(), demo.tokens["regulator-city"])
    page = client.get("/console/emergency?lat=39.9097&lon=116.6566&radius_m=800")
    assert page.status_code == 200
    assert "Tongzhou Depot" in page.text or "tongzhou-depot" in page.text
