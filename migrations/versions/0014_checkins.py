"""Check-in timers (issue 23): the agency's safety settings (check-in interval, grace and
rule; the emergency's backup count and position interval; the phone's position interval),
and each on-scene assignment's check-ins.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (column, type, server default): agencies made before this get the defaults.
_SETTINGS: tuple[tuple[str, sa.types.TypeEngine[Any], str], ...] = (
    ("checkin_interval_s", sa.Integer(), "900"),
    ("checkin_grace_s", sa.Integer(), "300"),
    ("checkin_missed_rule", sa.String(length=16), "backup"),
    ("emergency_backup_count", sa.Integer(), "2"),
    ("emergency_position_interval_s", sa.Integer(), "5"),
    ("position_report_interval_s", sa.Integer(), "30"),
)
_LIVE = "state IN ('scheduled', 'due')"


def upgrade() -> None:
    # Plain ADD COLUMN: a batch copy of `agency` would trip the foreign keys onto it.
    for name, type_, default in _SETTINGS:
        op.add_column("agency", sa.Column(name, type_, nullable=False, server_default=default))
    op.create_table(
        "checkin",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), sa.ForeignKey("assignment.id"), nullable=False),
        sa.Column("responder_id", sa.Uuid(), sa.ForeignKey("responder.id"), nullable=False),
        sa.Column("call_id", sa.Uuid(), sa.ForeignKey("call.id"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grace_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prompted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.Column("missed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rule", sa.String(length=16), nullable=True),
        sa.Column("backup", sa.JSON(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_checkin_assignment_id", "checkin", ["assignment_id"])
    op.create_index("ix_checkin_due", "checkin", ["state", "due_at"])
    op.create_index("ix_checkin_grace", "checkin", ["state", "grace_until"])
    op.create_index("ix_checkin_alarm", "checkin", ["agency_id", "missed_at"])
    op.create_index(
        "ux_checkin_live",
        "checkin",
        ["assignment_id"],
        unique=True,
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )


def downgrade() -> None:
    for index in (
        "ux_checkin_live",
        "ix_checkin_alarm",
        "ix_checkin_grace",
        "ix_checkin_due",
        "ix_checkin_assignment_id",
    ):
        op.drop_index(index, table_name="checkin")
    op.drop_table("checkin")
    for name, _, _ in reversed(_SETTINGS):
        op.drop_column("agency", name)
