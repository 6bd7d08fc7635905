"""The console's pure parts: the district decoder, the risk grade's sentences, Beijing
time, and the answer when the npm assets are not installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.catalogs import load_risk_weights
from api.console.assets import Assets
from api.console.geo import beijing_geojson, decode, decode_ring
from api.console.i18n import REASONS, Lang, beijing, from_beijing_input, reason_text
from ledger.risk import InspectionHistory, LicenceState, RiskInputs, risk_grade
from tests.api.console.conftest import Demo, login


def _encode(points: list[tuple[int, int]], offset: tuple[int, int]) -> str:
    """ECharts' encoder (zig-zag deltas, two characters a point), to check the decoder."""
    out, (px, py) = [], offset
    for x, y in points:
        dx, dy = x - px, y - py
        out += [chr(((dx << 1) ^ (dx >> 15)) + 64), chr(((dy << 1) ^ (dy >> 15)) + 64)]
        px, py = x, y
    return "".join(out)


def test_a_ring_decodes_back_to_its_points() -> None:
    points = [(119181, 40920), (119170, 40931), (119190, 40900), (119181, 40920)]
    ring = decode_ring(_encode(points, (119181, 40920)), [119181, 40920], 1024)
    assert ring == [[x / 1024, y / 1024] for x, y in points]


def test_the_shipped_boundaries_are_beijings_16_districts_in_beijing(demo: Demo) -> None:
    source = Assets(demo.service.settings.console_assets).geojson_source()
    geo = json.loads(beijing_geojson(source))
    assert len(geo["features"]) == 16
    assert all(f["properties"]["district"] for f in geo["features"])
    for feature in geo["features"]:
        polygons = feature["geometry"]["coordinates"]
        if feature["geometry"]["type"] == "Polygon":
            polygons = [polygons]
        for polygon in polygons:
            for lon, lat in polygon[0]:
                assert 115.4 < lon < 117.6 and 39.4 < lat < 41.1
    assert decode({"type": "FeatureCollection", "features": []})["features"] == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_risk_grade_reason_reads_as_a_sentence_in_both_languages(lang: Lang) -> None:
    inputs = RiskInputs(
        open_findings={"critical": 1},
        largest_ratio=1.5,
        largest_site="depot",
        licences=LicenceState(
            "suspended", (("L-1", "revoked"),), (("L-2", "2026-11-15T00:00:00Z"),),
            (("25", "highly_toxic"),),
        ),
        categories=frozenset(load_risk_weights().categories.points),
        inspections=InspectionHistory(365, {"fail": 1, "observation": 1}),
    )  # fmt: skip
    reasons = risk_grade(inputs, load_risk_weights()).reasons
    none = risk_grade(RiskInputs(inspections=InspectionHistory(365, {})), load_risk_weights())
    codes = {r.code for r in (*reasons, *none.reasons)}
    assert codes == set(REASONS)  # every reason the grade gives has its sentence
    for reason in (*reasons, *none.reasons):
        sentence = reason_text(lang, reason)
        assert "{" not in sentence and sentence != reason.code
    texts = [reason_text(lang, r) for r in reasons]
    if lang == "zh":
        assert "1 条未处置预警（严重）× 40" in texts and "持有剧毒化学品" in texts
        assert any("2026-11-15" in t and "L-2" in t for t in texts)
    else:
        assert (
            "1 open critical finding(s) × 40" in texts and "holds highly toxic chemicals" in texts
        )


def test_times_are_shown_in_beijing_time_with_the_zone() -> None:
    assert beijing("2026-10-01T08:00:00Z") == "2026-10-01 16:00:00 UTC+8"
    assert from_beijing_input("2026-10-01T16:00") == "2026-10-01T08:00:00Z"
    assert beijing(None) == "—"


def test_missing_assets_say_how_to_install_them(demo: Demo, tmp_path: Path) -> None:
    client = login(demo.browser(), demo.admin_token)
    console = demo.app.state.console  # type: ignore[attr-defined]
    saved = console.assets
    console.assets = Assets(tmp_path)
    try:
        for path in ("/console/static/vendor/leaflet.js", "/console/geo/beijing.geojson"):
            response = client.get(path)
            assert response.status_code == 503
            assert "npm ci" in response.text
    finally:
        console.assets = saved
    assert client.get("/console/static/vendor/leaflet.js").status_code == 200
    assert client.get("/console/static/vendor/../../../pyproject.toml").status_code == 404
    assert client.get("/console/static/../web.py").status_code == 404


def test_docs_and_redoc_load_nothing_from_another_host(demo: Demo) -> None:
    client = demo.browser()
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert "/console/static/vendor/" in html
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        for src in html.split('src="')[1:]:
            assert src.startswith("/"), src[:60]
        for href in html.split('href="')[1:]:
            assert href.startswith("/"), href[:60]
