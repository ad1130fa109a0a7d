"""EIDO in and out: what a CAD's incident carried that CoRespond cannot map, and each agency's incident-type mapping (issue 22).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call", sa.Column("eido_kept", sa.JSON(), nullable=True))
    op.create_table(
        "eido_mapping",
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), primary_key=True),
        sa.Column("internal_codes", sa.JSON(), nullable=False),
        sa.Column("registry_texts", sa.JSON(), nullable=False),
        sa.Column("default_category", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("eido_mapping")
    op.drop_column("call", "eido_kept")
