"""Where sites are, behind a spatial index, and the events the emergency query folds.

``site_location`` holds each site's newest registry record's place. The index over it is
an R*Tree virtual table on SQLite (``site_location_rtree``: ``id`` is the row's ``rid``,
then the box ``min_lat, max_lat, min_lon, max_lon``) and a GiST index on
``point(lon, lat)`` on PostgreSQL (core geometric types, no extension). Both are written
by :func:`index_site` in the transaction that logs the site record, so the index never
lags the registry. A query gives rectangles (:func:`ledger.geo.search_boxes`); the exact
geodesic distance is the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, select, text

from ledger.geo import Box
from ledger.records import RegistryRecord
from ledger.store import schema as t
from ledger.store.engine import upsert

RTREE: Final = "site_location_rtree"
GIST_INDEX: Final = "ix_site_location_geo"
SPATIAL_TABLES: Final = frozenset({RTREE, f"{RTREE}_node", f"{RTREE}_parent", f"{RTREE}_rowid"})
"""The tables SQLite makes for the R*Tree: outside the SQLAlchemy metadata by necessity."""
_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class SitePlace:
    """A site as the spatial index holds it."""

    site: str
    org: str
    district: str
    status: str
    lat: float
    lon: float


def index_site(conn: Connection, record: RegistryRecord, log_index: int) -> None:
    """Put a site record's place into ``site_location`` and the spatial index (same
    transaction as the record's log entry). A site keeps the ``rid`` of its first version."""
    sl = t.site_location
    lat, lon = float(str(record.attr("lat"))), float(str(record.attr("lon")))
    rid = conn.execute(select(sl.c.rid).where(sl.c.site == record.record_id)).scalar()
    row = {
        "site": record.record_id, "rid": log_index if rid is None else rid,
        "org": str(record.attr("org")), "district": str(record.attr("district")),
        "status": str(record.attr("status") or "active"), "lat": lat, "lon": lon,
        "log_index": log_index,
    }  # fmt: skip
    conn.execute(upsert(conn, sl, row, ["site"], ["org", "district", "status", "lat", "lon",
                                                  "log_index"]))  # fmt: skip
    if conn.dialect.name == "sqlite":
        statement = f"INSERT OR REPLACE INTO {RTREE} VALUES (:id, :lat, :lat, :lon, :lon)"  # noqa: S608
        conn.execute(text(statement), {"id": row["rid"], "lat": lat, "lon": lon})


def _box_query(dialect: str, boxes: Sequence[Box]) -> tuple[Any, dict[str, float]]:
    """The statement selecting the sites in ``boxes``, through the dialect's index. Only
    constants and placeholder names are formatted into it; every value is bound."""
    params: dict[str, float] = {}
    clauses = []
    for n, box in enumerate(boxes):
        params |= {f"s{n}": box.min_lat, f"n{n}": box.max_lat,
                   f"w{n}": box.min_lon, f"e{n}": box.max_lon}  # fmt: skip
        if dialect == "sqlite":
            clauses.append(
                f"(r.min_lat <= :n{n} AND r.max_lat >= :s{n} "
                f"AND r.min_lon <= :e{n} AND r.max_lon >= :w{n})"
            )
        else:
            clauses.append(f"point(s.lon, s.lat) <@ box(point(:w{n}, :s{n}), point(:e{n}, :n{n}))")
    columns = "s.site, s.org, s.district, s.status, s.lat, s.lon"
    where = " OR ".join(clauses)
    if dialect == "sqlite":
        tables = f"{RTREE} r JOIN site_location s ON s.rid = r.id"
    else:
        tables = "site_location s"
    return text(f"SELECT {columns} FROM {tables} WHERE {where}"), params  # noqa: S608


class SiteStore:
    """Reads for the emergency query: sites in boxes, and the events that place items."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sites_in(self, boxes: Sequence[Box]) -> list[SitePlace]:
        """The sites whose place is inside any of ``boxes`` (through the spatial index)."""
        query, params = _box_query(self.engine.dialect.name, boxes)
        with self.engine.connect() as conn:
            return [SitePlace(r.site, r.org, r.district, r.status, r.lat, r.lon)
                    for r in conn.execute(query, params)]  # fmt: skip

    def sites_of_district(self, district: str) -> list[SitePlace]:
        """The sites whose registry record names ``district``, by site id."""
        sl = t.site_location
        query = select(sl.c.site, sl.c.org, sl.c.district, sl.c.status, sl.c.lat, sl.c.lon)
        with self.engine.connect() as conn:
            rows = conn.execute(query.where(sl.c.district == district).order_by(sl.c.site))
            return [SitePlace(r.site, r.org, r.district, r.status, r.lat, r.lon) for r in rows]

    def explain_sites_in(self, boxes: Sequence[Box]) -> str:
        """The database's plan for :meth:`sites_in` (tests check that it uses the index)."""
        query, params = _box_query(self.engine.dialect.name, boxes)
        sqlite = self.engine.dialect.name == "sqlite"
        prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        with self.engine.connect() as conn:
            if not sqlite:  # the planner prefers a scan of a tiny table; ask what it can do
                conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.execute(text(prefix + str(query)), params).all()
            if not sqlite:
                conn.exec_driver_sql("RESET enable_seqscan")
        return "\n".join(" ".join(str(v) for v in row) for row in rows)

    def last_index(self) -> int:
        """The newest event's log index (-1 for none)."""
        query = select(func.max(t.event.c.log_index))
        with self.engine.connect() as conn:
            newest = conn.execute(query).scalar()
        return -1 if newest is None else int(newest)

    def events_of_types(
        self, types: Sequence[str], since: str | None, until: str | None, *,
        after: int | None = None, upto: int | None = None,
    ) -> Iterator[tuple[int, bytes, dict[str, Any]]]:  # fmt: skip
        """``(log index, event hash, raw envelope JSON)`` of events of ``types`` with
        ``since <= time <= until`` (through ``ix_event_type_time``) or logged after log
        index ``after`` (through the log index) and up to ``upto``, in log order."""
        ev = t.event
        bounds = []
        if since is not None:
            bounds.append(ev.c.event_time >= since)
        if until is not None:
            bounds.append(ev.c.event_time <= until)
        if after is not None:
            bounds.append(ev.c.log_index > after)
        if upto is not None:
            bounds.append(ev.c.log_index <= upto)
        query = (
            select(ev.c.log_index, ev.c.event_hash, ev.c.envelope)
            .where(ev.c.type.in_(list(types)), *bounds)
            .order_by(ev.c.log_index)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield row.log_index, bytes(row.event_hash), json.loads(row.envelope)

    def events_by_hash(
        self, hashes: Sequence[bytes]
    ) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
        """``(log index, event hash, raw envelope JSON)`` of the events with these hashes."""
        ev = t.event
        with self.engine.connect() as conn:
            for start in range(0, len(hashes), _CHUNK):
                chunk = list(hashes[start : start + _CHUNK])
                query = select(ev.c.log_index, ev.c.event_hash, ev.c.envelope).where(
                    ev.c.event_hash.in_(chunk)
                )
                for row in conn.execute(query):
                    yield row.log_index, bytes(row.event_hash), json.loads(row.envelope)
