"""GS1 keys resolve to codes: link the GS1 key of every code issued before this revision

Codes issued from now on are linked when their batch is logged
(``SqlLedgerStore.append_code_batch``); this backfills the ones issued earlier.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 12:00:00
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_issued = sa.table("issued_code", sa.column("code", sa.String), sa.column("record", sa.LargeBinary))
_external = sa.table(
    "external_id",
    sa.column("scheme", sa.String),
    sa.column("external_id", sa.String),
    sa.column("code", sa.String),
    sa.column("linked_at", sa.String),
)


def upgrade() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rows = []
    for code, record in connection.execute(sa.select(_issued.c.code, _issued.c.record)):
        key = json.loads(bytes(record))["facts"].get("gs1_key")
        if key is not None:
            rows.append({"scheme": "gs1", "external_id": key, "code": code, "linked_at": now})
    if rows:
        op.bulk_insert(_external, rows)


def downgrade() -> None:
    op.execute(sa.delete(_external).where(_external.c.scheme == "gs1"))
