"""EPCIS capture jobs, and the CBV 2.0 hash ID of every captured event (unique)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "epcis_capture_job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("behaviour", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_capture_job")),
    )
    op.create_index(op.f("ix_epcis_capture_job_org"), "epcis_capture_job", ["org"], unique=False)
    op.create_table(
        "epcis_captured_event",
        sa.Column("hash_id", sa.String(length=120), nullable=False),
        sa.Column("event_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["epcis_capture_job.id"],
            name=op.f("fk_epcis_captured_event_job_id_epcis_capture_job"),
        ),
        sa.PrimaryKeyConstraint("hash_id", name=op.f("pk_epcis_captured_event")),
    )
    op.create_index(
        op.f("ix_epcis_captured_event_event_hash"),
        "epcis_captured_event",
        ["event_hash"],
        unique=False,
    )
    op.create_index(
        op.f("ix_epcis_captured_event_job_id"), "epcis_captured_event", ["job_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_epcis_captured_event_job_id"), table_name="epcis_captured_event")
    op.drop_index(op.f("ix_epcis_captured_event_event_hash"), table_name="epcis_captured_event")
    op.drop_table("epcis_captured_event")
    op.drop_index(op.f("ix_epcis_capture_job_org"), table_name="epcis_capture_job")
    op.drop_table("epcis_capture_job")
