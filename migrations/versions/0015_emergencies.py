"""Responders' emergencies (issue 23): one row an emergency, at most one open a responder.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "closed_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "emergency",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("responder_id", sa.Uuid(), sa.ForeignKey("responder.id"), nullable=False),
        sa.Column("call_id", sa.Uuid(), sa.ForeignKey("call.id"), nullable=True),
        sa.Column("call_made", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backup", sa.JSON(), nullable=False),
        sa.Column("backup_wanted", sa.Integer(), nullable=False),
        sa.Column("backup_missing", sa.String(length=300), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_by", sa.String(length=200), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_emergency_open_responder",
        "emergency",
        ["responder_id"],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_index("ix_emergency_agency_raised", "emergency", ["agency_id", "raised_at"])


def downgrade() -> None:
    op.drop_index("ix_emergency_agency_raised", table_name="emergency")
    op.drop_index("ux_emergency_open_responder", table_name="emergency")
    op.drop_table("emergency")
