"""Issue 21: what the outcome reports need beyond the close records: each responder's
on-duty periods (for utilisation; the event log is purged after its retention).

Revision ID: 0012
Revises: 0011
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duty_period",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("responder_id", sa.Uuid(), sa.ForeignKey("responder.id"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_duty_period_agency_started", "duty_period", ["agency_id", "started_at"])
    op.create_index("ix_duty_period_responder_ended", "duty_period", ["responder_id", "ended_at"])
    # Whoever is on duty now starts a period now: what came before was never kept.
    bind = op.get_bind()
    responder = sa.table(
        "responder", sa.column("id", sa.Uuid()), sa.column("agency_id", sa.Uuid()),
        sa.column("status", sa.String()),
    )  # fmt: skip
    on_duty = bind.execute(
        sa.select(responder.c.id, responder.c.agency_id).where(responder.c.status != "off_duty")
    ).all()
    if on_duty:
        now = datetime.now(UTC)
        period = sa.table(
            "duty_period", sa.column("id", sa.Uuid()), sa.column("agency_id", sa.Uuid()),
            sa.column("responder_id", sa.Uuid()),
            sa.column("started_at", sa.DateTime(timezone=True)),
        )  # fmt: skip
        bind.execute(
            period.insert(),
            [
                {"id": uuid.uuid4(), "agency_id": a, "responder_id": r, "started_at": now}
                for r, a in on_duty
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_duty_period_responder_ended", "duty_period")
    op.drop_index("ix_duty_period_agency_started", "duty_period")
    op.drop_table("duty_period")
