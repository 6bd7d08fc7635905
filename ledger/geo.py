"""Distances and search boxes on the WGS-84 ellipsoid. Pure.

Every coordinate in the ledger is WGS-84 (a site record's ``lat``/``lon``, an event's
``geo``), so a distance is the geodesic on that ellipsoid, computed with GeographicLib
(Karney 2013, "Algorithms for geodesics", accurate to 15 nm), not a spherical formula
whose error reaches 0.5 %: at the edge of a 50 km radius that is 250 m.

A spatial index answers rectangles, so :func:`search_boxes` gives the latitude/longitude
boxes that surely hold every point within a radius; the exact distance then decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from geographiclib.geodesic import Geodesic

_WGS84: Final = Geodesic.WGS84
_DISTANCE: Final = Geodesic.DISTANCE
EQUATORIAL_RADIUS_M: Final = 6_378_137.0
"""WGS-84 semi-major axis ``a``."""
MERIDIAN_DEGREE_MIN_M: Final = 110_574.0
"""The shortest degree of latitude on WGS-84 (at the equator, 110 574.389 m), rounded
down: a radius divided by it is never fewer degrees than the radius spans."""
_MARGIN: Final = 1.01
"""Boxes are widened by 1 % (and a few metres) so that no rounding, and no bulge of a
geodesic circle towards the pole, leaves a point within the radius outside them."""
_SLACK_M: Final = 5.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The geodesic distance in metres between two WGS-84 points."""
    result = _WGS84.Inverse(lat1, lon1, lat2, lon2, _DISTANCE)
    return float(result["s12"])


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude rectangle, ``min_lon <= max_lon`` (never across ±180°)."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


def search_boxes(lat: float, lon: float, radius_m: float) -> tuple[Box, ...]:
    """Boxes that together hold every point within ``radius_m`` of ``(lat, lon)``.

    One box, or two where the circle crosses the antimeridian; near a pole, the whole
    band of longitudes.
    """
    reach = radius_m * _MARGIN + _SLACK_M
    dlat = reach / MERIDIAN_DEGREE_MIN_M
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    poleward = max(abs(min_lat), abs(max_lat))
    if poleward >= 89.0:
        return (Box(min_lat, max_lat, -180.0, 180.0),)
    # A degree of longitude is at least a·cos(φ)·π/180 long at latitude φ (the ellipsoid's
    # parallels are longer than the sphere of radius a's), and shortest at the circle's
    # most poleward latitude.
    parallel_degree = EQUATORIAL_RADIUS_M * math.cos(math.radians(poleward)) * math.pi / 180
    dlon = reach / parallel_degree
    if dlon >= 180.0:
        return (Box(min_lat, max_lat, -180.0, 180.0),)
    west, east = lon - dlon, lon + dlon
    if west < -180.0:
        return (Box(min_lat, max_lat, west + 360.0, 180.0), Box(min_lat, max_lat, -180.0, east))
    if east > 180.0:
        return (Box(min_lat, max_lat, west, 180.0), Box(min_lat, max_lat, -180.0, east - 360.0))
    return (Box(min_lat, max_lat, west, east),)
