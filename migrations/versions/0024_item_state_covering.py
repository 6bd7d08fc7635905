"""item_state: the site indexes carry the state columns; the current index has the code

The emergency view reads the states at a few dozen sites. A site's rows lie scattered over
the table in log order, so reading them through an index of ``site`` alone costs one table
page per item; with the state's columns in the index the read is one range of it. The
current states of a few items (``to_index IS NULL AND code IN …``) went through the index
of ``to_index`` alone on SQLite, which has no statistics: a walk of every current row.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 02:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

HELD = [
    "status", "code", "chemical", "packaging", "holder", "quantity", "unit", "destination",
    "last_event", "last_time", "seq", "version", "last_ship",
]  # fmt: skip


def upgrade() -> None:
    op.drop_index("ix_item_state_current", table_name="item_state")
    op.create_index("ix_item_state_current", "item_state", ["to_index", "code"])
    op.drop_index("ix_item_state_site_current", table_name="item_state")
    op.create_index("ix_item_state_site_current", "item_state", ["site", "to_index", *HELD])
    op.drop_index("ix_item_state_site_moment", table_name="item_state")
    op.create_index(
        "ix_item_state_site_moment", "item_state", ["site", "from_moment", "to_moment", *HELD]
    )


def downgrade() -> None:
    op.drop_index("ix_item_state_site_moment", table_name="item_state")
    op.create_index("ix_item_state_site_moment", "item_state", ["site", "from_moment"])
    op.drop_index("ix_item_state_site_current", table_name="item_state")
    op.create_index("ix_item_state_site_current", "item_state", ["site", "to_index"])
    op.drop_index("ix_item_state_current", table_name="item_state")
    op.create_index("ix_item_state_current", "item_state", ["to_index"])
