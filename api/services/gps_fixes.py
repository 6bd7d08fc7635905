"""The newest GPS fix of each shipment: where the emergency query looks for vehicles.

A shipment's track is its ship event's ``geo`` and then each waypoint's (``data.ship``
names the ship event); the newest fix is the one with the latest event time (then log
index), as ``transport.track_lost`` reads it. A fix older than the window (the rules'
track silence) says nothing of where the vehicle is now.

"Now" is kept current incrementally: the first call reads the window's fixes through
``ix_event_type_time``, later calls only the ship and waypoint events logged since (by
log index), so a query does not re-read two hours of tracks. A past time reads its window.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from ledger.store.sites import SiteStore
from ledger.timefmt import format_utc, parse_utc

TRACK_TYPES: Final = ("ship", "waypoint")


@dataclass(frozen=True, slots=True)
class GpsFix:
    """One position of a shipment's vehicle."""

    when: datetime
    index: int
    lat: float
    lon: float

    @property
    def order(self) -> tuple[datetime, int]:
        return self.when, self.index


def track_point(event_hash: bytes, raw: Mapping[str, Any]) -> tuple[bytes, GpsFix] | None:
    """``(ship event hash, fix)`` of a ship or waypoint envelope with a ``geo``, else None."""
    body = raw["body"]
    geo = body.get("geo")
    if not isinstance(geo, dict):
        return None
    if body["type"] == "ship":
        ship: bytes | None = event_hash
    else:
        data = body.get("data")
        reference = data.get("ship") if isinstance(data, dict) else None
        ship = _hash(reference)
    if ship is None:
        return None
    return ship, GpsFix(parse_utc(body["time"]), -1, float(geo["lat"]), float(geo["lon"]))


def _hash(reference: object) -> bytes | None:
    if not isinstance(reference, str) or not reference.startswith("sha256:"):
        return None
    try:
        return bytes.fromhex(reference.removeprefix("sha256:"))
    except ValueError:
        return None


class LastFixes:
    """The newest fix of every shipment with one in the window, now or at a past time."""

    def __init__(self, sites: SiteStore, window: timedelta) -> None:
        self._sites, self._window = sites, window
        self._lock = threading.Lock()
        self._cursor: int | None = None
        self._newest: dict[bytes, GpsFix] = {}

    def now(self, moment: datetime) -> dict[bytes, GpsFix]:
        """Each shipment's newest fix no older than the window before ``moment``."""
        with self._lock:
            if self._cursor is None:
                upto = self._sites.last_index()
                since = format_utc(moment - self._window)
                self._merge(self._newest, self._sites.events_of_types(TRACK_TYPES, since, None,
                                                                      upto=upto))  # fmt: skip
                self._cursor = upto
            else:
                rows = list(self._sites.events_of_types(TRACK_TYPES, None, None,
                                                        after=self._cursor))  # fmt: skip
                if rows:
                    self._cursor = rows[-1][0]
                self._merge(self._newest, rows)
            oldest = moment - self._window
            for ship in [s for s, fix in self._newest.items() if fix.when < oldest]:
                del self._newest[ship]
            return {s: fix for s, fix in self._newest.items() if fix.when <= moment}

    def at(self, until: datetime) -> dict[bytes, GpsFix]:
        """Each shipment's newest fix at ``until`` (event time), in the window before it."""
        newest: dict[bytes, GpsFix] = {}
        since = format_utc(until - self._window)
        bound = f"{until:%Y-%m-%dT%H:%M:%S}Z"  # the whole second; cut exactly below
        self._merge(newest, self._sites.events_of_types(TRACK_TYPES, since, bound))
        return {s: fix for s, fix in newest.items() if fix.when <= until}

    @staticmethod
    def _merge(
        newest: dict[bytes, GpsFix], rows: Iterable[tuple[int, bytes, Mapping[str, Any]]]
    ) -> None:
        for index, event_hash, raw in rows:
            point = track_point(event_hash, raw)
            if point is None:
                continue
            ship, fix = point
            fix = GpsFix(fix.when, index, fix.lat, fix.lon)
            known = newest.get(ship)
            if known is None or fix.order > known.order:
                newest[ship] = fix
