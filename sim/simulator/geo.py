"""Beijing's 16 districts, points scattered in them, and straight-line trips between points."""

from __future__ import annotations

import math
import random
from typing import Final

from sim.simulator.regulation import distance_m

Point = tuple[float, float]

DISTRICTS: Final[dict[str, tuple[float, float, float]]] = {
    # district: (lat, lon, scatter radius in degrees)
    "dongcheng": (39.9288, 116.4160, 0.015),
    "xicheng": (39.9123, 116.3660, 0.015),
    "chaoyang": (39.9215, 116.4864, 0.05),
    "fengtai": (39.8585, 116.2866, 0.04),
    "shijingshan": (39.9056, 116.2229, 0.02),
    "haidian": (39.9597, 116.2981, 0.05),
    "mentougou": (39.9405, 116.1020, 0.04),
    "fangshan": (39.7355, 116.1430, 0.07),
    "tongzhou": (39.9096, 116.6566, 0.05),
    "shunyi": (40.1302, 116.6546, 0.06),
    "changping": (40.2208, 116.2312, 0.06),
    "daxing": (39.7269, 116.3415, 0.06),
    "huairou": (40.3160, 116.6319, 0.06),
    "pinggu": (40.1406, 117.1211, 0.05),
    "miyun": (40.3762, 116.8430, 0.06),
    "yanqing": (40.4566, 115.9748, 0.06),
}
CORE: Final = ("dongcheng", "xicheng")
OUTER: Final = tuple(d for d in DISTRICTS if d not in CORE)


def scatter(rng: random.Random, district: str) -> Point:
    lat, lon, radius = DISTRICTS[district]
    angle, r = rng.random() * 2 * math.pi, radius * math.sqrt(rng.random())
    return round(lat + r * math.sin(angle), 5), round(lon + r * math.cos(angle) * 1.3, 5)


def nearby(point: Point, rng: random.Random, km: float) -> Point:
    """A point about ``km`` away in a random direction."""
    angle = rng.random() * 2 * math.pi
    dlat = km / 111.0 * math.sin(angle)
    dlon = km / (111.0 * math.cos(math.radians(point[0]))) * math.cos(angle)
    return round(point[0] + dlat, 5), round(point[1] + dlon, 5)


def distance_km(a: Point, b: Point) -> float:
    return distance_m(a, b) / 1000


def offset(a: Point, b: Point, where: Point, km: float) -> Point:
    """``where`` moved ``km`` sideways, perpendicular to the line from ``a`` to ``b``."""
    dlat, dlon = b[0] - a[0], (b[1] - a[1]) * math.cos(math.radians(a[0]))
    norm = math.hypot(dlat, dlon) or 1.0
    side_lat, side_lon = -dlon / norm, dlat / norm
    return (
        round(where[0] + side_lat * km / 111.0, 5),
        round(where[1] + side_lon * km / (111.0 * math.cos(math.radians(where[0]))), 5),
    )


def text(value: float) -> str:
    return f"{value:.5f}"


def trip_seconds(a: Point, b: Point, rng: random.Random) -> int:
    """Road time between two points: 1.3 × straight distance at 35-55 km/h, plus 10 minutes."""
    road_km = distance_km(a, b) * 1.3
    return int(road_km / rng.uniform(35, 55) * 3600) + 600


def along(a: Point, b: Point, fraction: float) -> Point:
    return (
        round(a[0] + (b[0] - a[0]) * fraction, 5),
        round(a[1] + (b[1] - a[1]) * fraction, 5),
    )
