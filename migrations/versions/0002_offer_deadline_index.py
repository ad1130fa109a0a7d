"""Index offer deadlines, which the expiry timer reads every second.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_assignment_offer_deadline", "assignment", ["state", "offer_expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_assignment_offer_deadline", table_name="assignment")
