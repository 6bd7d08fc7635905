"""Beijing's district boundaries as plain GeoJSON, for the offline base map.

The source (``echarts@4.9.0``'s ``map/json/province/beijing.json``, Apache-2.0) stores
rings in ECharts' compressed encoding: two characters per point, zig-zag and delta coded,
scaled by 1024. This decodes it exactly as ECharts' own ``decode`` does. The source does not
state its datum; at district scale the outline serves as a base layer (sites and fixes are
WGS-84, as the API says).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

DISTRICTS: Final[dict[str, tuple[str, str]]] = {
    # registry district id: (Chinese name, English name)
    "dongcheng": ("东城区", "Dongcheng"),
    "xicheng": ("西城区", "Xicheng"),
    "chaoyang": ("朝阳区", "Chaoyang"),
    "fengtai": ("丰台区", "Fengtai"),
    "shijingshan": ("石景山区", "Shijingshan"),
    "haidian": ("海淀区", "Haidian"),
    "mentougou": ("门头沟区", "Mentougou"),
    "fangshan": ("房山区", "Fangshan"),
    "tongzhou": ("通州区", "Tongzhou"),
    "shunyi": ("顺义区", "Shunyi"),
    "changping": ("昌平区", "Changping"),
    "daxing": ("大兴区", "Daxing"),
    "huairou": ("怀柔区", "Huairou"),
    "pinggu": ("平谷区", "Pinggu"),
    "miyun": ("密云区", "Miyun"),
    "yanqing": ("延庆区", "Yanqing"),
}
_BY_CHINESE: Final = {zh: key for key, (zh, _) in DISTRICTS.items()}


def district_name(district: str | None, lang: str) -> str:
    """A district id as people read it (its id itself when not a Beijing district)."""
    if district is None:
        return "—"
    names = DISTRICTS.get(district)
    if names is None:
        return district
    return names[0] if lang == "zh" else names[1]


def decode_ring(encoded: str, offset: list[int], scale: float) -> list[list[float]]:
    """One ring: each point is two characters, zig-zag coded deltas from the previous."""
    prev_x, prev_y = offset
    ring = []
    for i in range(0, len(encoded) - 1, 2):
        x, y = ord(encoded[i]) - 64, ord(encoded[i + 1]) - 64
        x, y = (x >> 1) ^ -(x & 1), (y >> 1) ^ -(y & 1)
        prev_x, prev_y = prev_x + x, prev_y + y
        ring.append([prev_x / scale, prev_y / scale])
    return ring


def decode(source: dict[str, Any]) -> dict[str, Any]:
    """An ECharts map file as standard GeoJSON, each feature tagged with the registry's
    district id (``properties.district``) and its English name."""
    scale = float(source.get("UTF8Scale") or 1024)
    encoded = bool(source.get("UTF8Encoding"))
    features = []
    for feature in source["features"]:
        geometry = feature["geometry"]
        coordinates, offsets = geometry["coordinates"], geometry.get("encodeOffsets")
        if encoded:
            if geometry["type"] == "Polygon":
                coordinates = [
                    decode_ring(r, o, scale) for r, o in zip(coordinates, offsets, strict=True)
                ]
            elif geometry["type"] == "MultiPolygon":
                coordinates = [
                    [decode_ring(r, o, scale) for r, o in zip(poly, poly_off, strict=True)]
                    for poly, poly_off in zip(coordinates, offsets, strict=True)
                ]
        name = feature["properties"]["name"]
        district = _BY_CHINESE.get(name)
        features.append(
            {
                "type": "Feature",
                "id": feature.get("id"),
                "geometry": {"type": geometry["type"], "coordinates": coordinates},
                "properties": {
                    "name": name,
                    "district": district,
                    "name_en": DISTRICTS[district][1] if district else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


@lru_cache(maxsize=2)
def beijing_geojson(source: Path) -> bytes:
    """The decoded boundaries as JSON bytes (decoded once per file)."""
    raw = json.loads(source.read_text(encoding="utf-8"))
    return json.dumps(decode(raw), ensure_ascii=False, separators=(",", ":")).encode()
