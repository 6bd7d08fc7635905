"""security journal: aggregated rows (count, last_at, window_start)

Repeated refusals from one client or device in one window become one row with a count
(``ServiceStore.journal(..., aggregate_by=...)``). Rows written before this revision each
stand for one attempt: count 1, last seen when first seen, no window.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_journal = sa.table("security_journal", sa.column("at", sa.String), sa.column("last_at", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("security_journal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_at", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("count", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.add_column(sa.Column("window_start", sa.String(length=32), nullable=True))
    op.execute(sa.update(_journal).values(last_at=_journal.c.at))
    with op.batch_alter_table("security_journal", schema=None) as batch_op:
        batch_op.alter_column("last_at", existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column("count", existing_type=sa.Integer(), server_default=None)
        batch_op.create_index(batch_op.f("ix_security_journal_last_at"), ["last_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("security_journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_journal_last_at"))
        batch_op.drop_column("window_start")
        batch_op.drop_column("count")
        batch_op.drop_column("last_at")
