"""Each assignment says what made its ETA and distance: the straight-line estimate or a
road network; a call keeps, for staff, where the road changed the choice (issue 20).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call", sa.Column("plan_travel", sa.Text(), nullable=True))
    # A plain ADD COLUMN with a default: every assignment so far was estimated so.
    op.add_column(
        "assignment",
        sa.Column(
            "travel_by", sa.String(length=120), nullable=False, server_default="straight line"
        ),
    )


def downgrade() -> None:
    op.drop_column("assignment", "travel_by")
    op.drop_column("call", "plan_travel")
