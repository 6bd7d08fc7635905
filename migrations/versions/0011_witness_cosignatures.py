"""witness cosignatures on checkpoints, and what the log knows of each witness

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_cosignature",
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["size"], ["checkpoint.size"], name=op.f("fk_checkpoint_cosignature_size_checkpoint")
        ),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_checkpoint_cosignature")),
    )
    op.create_table(
        "witness_status",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("last_attempt_at", sa.String(length=32), nullable=True),
        sa.Column("last_success_at", sa.String(length=32), nullable=True),
        sa.Column("next_attempt_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_witness_status")),
    )


def downgrade() -> None:
    op.drop_table("witness_status")
    op.drop_table("checkpoint_cosignature")
