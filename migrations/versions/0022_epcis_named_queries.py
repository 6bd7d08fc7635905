"""epcis_named_query: EPCIS named queries, keyed by (owner, name)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "epcis_named_query",
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("owner", "name", name=op.f("pk_epcis_named_query")),
    )


def downgrade() -> None:
    op.drop_table("epcis_named_query")
