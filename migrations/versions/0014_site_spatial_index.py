"""where sites are, behind a spatial index (the emergency query), and events by type and time

``site_location`` holds each site's place from its newest registry record; on SQLite an
R*Tree virtual table ``site_location_rtree`` indexes it, on PostgreSQL a GiST index on
``point(lon, lat)`` (core geometric types: no extension, no PostGIS). Both are backfilled
here from the site records already logged, newest version per site, a site's ``rid`` being
the log index of its first version. ``ix_event_type_time`` finds shipments and GPS fixes
in a time window without reading every event.

The record parsing is frozen here (JSON of ``{"record": {"attrs": …}}``), so a later change
to ``ledger.records`` does not change what this revision did.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_RTREE = "site_location_rtree"


def upgrade() -> None:
    op.create_table(
        "site_location",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("rid", sa.BigInteger(), nullable=False),
        sa.Column("org", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(precision=53), nullable=False),
        sa.Column("lon", sa.Float(precision=53), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_site_location")),
        sa.UniqueConstraint("rid", name=op.f("uq_site_location_rid")),
    )
    op.create_index("ix_event_type_time", "event", ["type", "event_time"], unique=False)
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute(
            f"CREATE VIRTUAL TABLE {_RTREE} USING rtree(id, min_lat, max_lat, min_lon, max_lon)"
        )
    else:
        op.execute(
            "CREATE INDEX ix_site_location_geo ON site_location USING gist (point(lon, lat))"
        )
    rows = bind.execute(
        sa.text(
            "SELECT log_index, record_id, body FROM registry_record "
            "WHERE kind = 'site' ORDER BY log_index"
        )
    ).all()
    first: dict[str, int] = {}
    newest: dict[str, dict[str, object]] = {}
    for row in rows:
        attrs = json.loads(bytes(row.body))["record"]["attrs"]
        first.setdefault(row.record_id, int(row.log_index))
        newest[row.record_id] = {
            "site": row.record_id, "rid": first[row.record_id], "org": str(attrs["org"]),
            "district": str(attrs["district"]), "status": str(attrs.get("status") or "active"),
            "lat": float(attrs["lat"]), "lon": float(attrs["lon"]),
            "log_index": int(row.log_index),
        }  # fmt: skip
    for place in newest.values():
        bind.execute(
            sa.text(
                "INSERT INTO site_location (site, rid, org, district, status, lat, lon, log_index)"
                " VALUES (:site, :rid, :org, :district, :status, :lat, :lon, :log_index)"
            ),
            place,
        )
        if sqlite:
            bind.execute(
                sa.text(
                    f"INSERT INTO {_RTREE} (id, min_lat, max_lat, min_lon, max_lon) "
                    "VALUES (:rid, :lat, :lat, :lon, :lon)"
                ),
                place,
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TABLE {_RTREE}")
    op.drop_index("ix_event_type_time", table_name="event")
    op.drop_table("site_location")  # drops the GiST index with it
