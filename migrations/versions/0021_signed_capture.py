"""signed_capture: RFC 9421-signed EPCIS documents as log entries, unique (key_id, nonce)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signed_capture",
        sa.Column("capture_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("org", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["log_index"], ["log_entry.idx"], name=op.f("fk_signed_capture_log_index_log_entry")
        ),
        sa.PrimaryKeyConstraint("capture_hash", name=op.f("pk_signed_capture")),
        sa.UniqueConstraint("key_id", "nonce", name="uq_signed_capture_nonce"),
        sa.UniqueConstraint("log_index", name=op.f("uq_signed_capture_log_index")),
    )
    op.create_index(op.f("ix_signed_capture_org"), "signed_capture", ["org"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_signed_capture_org"), table_name="signed_capture")
    op.drop_table("signed_capture")
