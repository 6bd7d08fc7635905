"""item_state: the maintained item-state read model (ledger/store/readmodel.py), its
irregular items, transform sources and the projector's cursor

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_state",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("from_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("to_index", sa.BigInteger(), nullable=True),
        sa.Column("from_time", sa.String(length=32), nullable=False),
        sa.Column("to_time", sa.String(length=32), nullable=True),
        sa.Column("from_moment", sa.String(length=32), nullable=False),
        sa.Column("to_moment", sa.String(length=32), nullable=True),
        sa.Column("chemical", sa.String(), nullable=True),
        sa.Column("packaging", sa.String(), nullable=True),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("quantity", sa.String(), nullable=True),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("destination", sa.String(length=64), nullable=True),
        sa.Column("last_event", sa.String(length=20), nullable=True),
        sa.Column("last_time", sa.String(length=32), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("last_ship", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("code", "from_index", name=op.f("pk_item_state")),
    )
    op.create_index("ix_item_state_current", "item_state", ["to_index"])
    op.create_index("ix_item_state_site_current", "item_state", ["site", "to_index"])
    op.create_index("ix_item_state_holder_current", "item_state", ["holder", "to_index"])
    op.create_index("ix_item_state_from_time", "item_state", ["from_time"])
    op.create_index("ix_item_state_site_time", "item_state", ["site", "from_time"])
    op.create_index("ix_item_state_site_moment", "item_state", ["site", "from_moment"])
    op.create_table(
        "item_state_irregular",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_item_state_irregular")),
    )
    op.create_table(
        "item_state_source",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code", "source", name=op.f("pk_item_state_source")),
    )
    cursor = op.create_table(
        "readmodel_cursor",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("upto", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_readmodel_cursor")),
    )
    # Existing ledgers start from an empty model: the first read projects the whole log.
    op.bulk_insert(cursor, [{"name": "items", "upto": 0}])


def downgrade() -> None:
    op.drop_table("readmodel_cursor")
    op.drop_table("item_state_source")
    op.drop_table("item_state_irregular")
    op.drop_table("item_state")
