"""Item custody: who holds each item, its open shipment and its parties, beside the head

The append transaction judges the custody policy (``ledger.custody``) against this column.
Rows from before it existed stay NULL and are folded from their chain on first use.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("custody", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.drop_column("custody")
