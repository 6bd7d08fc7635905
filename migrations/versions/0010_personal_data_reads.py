"""personal data reads: an audit trail of who read whose personal data, when and why

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_data_read",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("commitment", sa.String(length=71), nullable=False),
        sa.Column("record_kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_read")),
    )
    for column in ("at", "user_id", "commitment"):
        op.create_index(
            op.f(f"ix_personal_data_read_{column}"), "personal_data_read", [column], unique=False
        )


def downgrade() -> None:
    for column in ("at", "user_id", "commitment"):
        op.drop_index(op.f(f"ix_personal_data_read_{column}"), table_name="personal_data_read")
    op.drop_table("personal_data_read")
