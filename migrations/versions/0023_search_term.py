"""search_term: items by lot, waybill, vehicle and device, kept from the log by a projector
(ledger/store/search_terms.py) with its cursor row in readmodel_cursor

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_term",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("first_time", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("kind", "term", "code", name=op.f("pk_search_term")),
    )


def downgrade() -> None:
    op.drop_table("search_term")
