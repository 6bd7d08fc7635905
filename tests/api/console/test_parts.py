"""The console's pure parts: the district decoder, the risk grade, Beijing time, and the
answer when the npm assets are not installed."""

from __future__ import annotations

import json
from pathlib import Path

from api.console.assets import Assets
from api.console.geo import beijing_geojson, decode, decode_ring
from api.console.i18n import beijing, from_beijing_input
from api.console.insight import risk_grade
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


def test_the_risk_grade_adds_up_its_reasons() -> None:
    assert risk_grade({}, 0.0).grade == "A"
    grade = risk_grade({"high": 1, "medium": 2}, 0.6)
    assert grade.points == 15 + 10 + 15 and grade.grade == "C"
    assert [points for _, points in grade.reasons] == [15, 10, 15]
    assert risk_grade({"critical": 1}, 1.2).grade == "D"  # 40 + 40
    assert risk_grade({"low": 9}, 0.0).grade == "A" and risk_grade({"low": 10}, 0).grade == "B"


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
