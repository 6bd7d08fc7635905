"""fence: the primary's generation, raised by each promotion, so a former primary that comes
back after a failover refuses writes (ledger/store/fencing.py)

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-07 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    fence = op.create_table(
        "fence",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fence")),
    )
    op.bulk_insert(fence, [{"id": 1, "generation": 1, "since": "1970-01-01T00:00:00Z"}])


def downgrade() -> None:
    op.drop_table("fence")
