"""Geodesic distances on WGS-84 against published values, and search boxes that miss nothing."""

from __future__ import annotations

import math

import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given
from hypothesis import strategies as st

from ledger.geo import distance_m, search_boxes


def _dms(degrees: int, minutes: int, seconds: float) -> float:
    return degrees + minutes / 60 + seconds / 3600


def test_flinders_peak_to_buninyong_is_the_published_54972_271_m() -> None:
    # Geoscience Australia, GDA Technical Manual (Vincenty's inverse example, GRS80, which
    # agrees with WGS-84 far below a millimetre over this line): 54 972.271 m.
    flinders = (-_dms(37, 57, 3.72030), _dms(144, 25, 29.52440))
    buninyong = (-_dms(37, 39, 10.15610), _dms(143, 55, 35.38390))
    assert distance_m(*flinders, *buninyong) == pytest.approx(54_972.271, abs=0.001)


def test_wellington_to_salamanca_is_geographiclibs_documented_value() -> None:
    # The GeographicLib documentation's inverse example: 19 959 679.267 m (nearly antipodal,
    # where Vincenty's iteration fails to converge).
    assert distance_m(-41.32, 174.81, 40.96, -5.50) == pytest.approx(19_959_679.267, abs=0.001)


def test_a_degree_of_latitude_at_the_equator_is_110574_m() -> None:
    # The WGS-84 meridian arc from 0 to 1 degree: 110 574.389 m (NGA TR8350.2 tables).
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(110_574.389, abs=0.001)


def test_tiananmen_to_the_forbidden_citys_north_gate_matches_the_ellipsoids_radii() -> None:
    # Tiananmen (39.9087, 116.3975) to Shenwumen (39.9230, 116.3970), 1.6 km nearly due
    # north. Over so short a line the ellipsoid is flat to a millimetre: a degree of latitude
    # is M·π/180 and of longitude N·cos φ·π/180, M and N the WGS-84 radii of curvature at
    # the mid latitude (NGA TR8350.2: a = 6 378 137 m, 1/f = 298.257223563). A sphere of
    # the IUGG mean radius is out by two metres.
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    mid = math.radians((39.9087 + 39.9230) / 2)
    w = 1 - e2 * math.sin(mid) ** 2
    meridian, normal = a * (1 - e2) / w**1.5, a / math.sqrt(w)
    north = math.radians(39.9230 - 39.9087) * meridian
    east = math.radians(116.3970 - 116.3975) * normal * math.cos(mid)
    geodesic = distance_m(39.9087, 116.3975, 39.9230, 116.3970)
    assert geodesic == pytest.approx(math.hypot(north, east), abs=0.005)
    assert abs(geodesic - _haversine(39.9087, 116.3975, 39.9230, 116.3970)) > 1.0


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def test_distance_is_zero_to_itself_and_symmetric() -> None:
    assert distance_m(39.9, 116.4, 39.9, 116.4) == 0.0
    assert distance_m(39.9, 116.4, 40.0, 116.5) == distance_m(40.0, 116.5, 39.9, 116.4)


@given(
    lat=st.floats(-89.9, 89.9),
    lon=st.floats(-180.0, 180.0),
    radius=st.floats(1.0, 50_000.0),
    azimuth=st.floats(-180.0, 180.0),
    fraction=st.floats(0.0, 1.0),
)
def test_every_point_within_the_radius_is_in_a_search_box(
    lat: float, lon: float, radius: float, azimuth: float, fraction: float
) -> None:
    point = Geodesic.WGS84.Direct(lat, lon, azimuth, radius * fraction)
    plat, plon = point["lat2"], (point["lon2"] + 180.0) % 360.0 - 180.0
    boxes = search_boxes(lat, lon, radius)
    assert any(b.min_lat <= plat <= b.max_lat and b.min_lon <= plon <= b.max_lon for b in boxes), (
        plat,
        plon,
        boxes,
    )


def test_a_circle_across_the_antimeridian_gives_two_boxes() -> None:
    boxes = search_boxes(10.0, 179.9, 50_000.0)
    assert len(boxes) == 2
    assert boxes[0].max_lon == 180.0 and boxes[1].min_lon == -180.0


def test_near_a_pole_the_box_takes_every_longitude() -> None:
    (box,) = search_boxes(89.5, 10.0, 50_000.0)
    assert (box.min_lon, box.max_lon) == (-180.0, 180.0) and box.max_lat < 90.0
    (over,) = search_boxes(89.9, 10.0, 50_000.0)  # the circle covers the pole
    assert (over.min_lon, over.max_lon, over.max_lat) == (-180.0, 180.0, 90.0)
