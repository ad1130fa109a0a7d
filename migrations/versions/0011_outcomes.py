"""Issue 21: each call's close record (call outcome), the agency's community resources and follow-up tasks.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "resource",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("age_groups", sa.JSON(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("capacity_updated_at", _MOMENT, nullable=True),
        sa.Column("created_at", _MOMENT, nullable=False),
    )
    op.create_index("ix_resource_agency_id", "resource", ["agency_id"])
    op.create_table(
        "provider_token",
        sa.Column("token_id", sa.Uuid(), sa.ForeignKey("api_token.id"), primary_key=True),
        sa.Column("resource_id", sa.Uuid(), sa.ForeignKey("resource.id"), nullable=False),
    )
    op.create_index("ix_provider_token_resource_id", "provider_token", ["resource_id"])
    op.create_table(
        "call_outcome",
        sa.Column("call_id", sa.Uuid(), sa.ForeignKey("call.id"), primary_key=True),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("age_group", sa.String(length=16), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("area", sa.String(length=100), nullable=True),
        sa.Column("place_cell", sa.BigInteger(), nullable=True),
        sa.Column("repeat_person", sa.Integer(), nullable=True),
        sa.Column("repeat_place", sa.Integer(), nullable=True),
        sa.Column("received_at", _MOMENT, nullable=False),
        sa.Column("first_offer_at", _MOMENT, nullable=True),
        sa.Column("first_accept_at", _MOMENT, nullable=True),
        sa.Column("first_on_scene_at", _MOMENT, nullable=True),
        sa.Column("closed_at", _MOMENT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("officer_on_call", sa.Boolean(), nullable=False),
        sa.Column("backup_requested", sa.Boolean(), nullable=False),
        sa.Column("backup_requested_at", _MOMENT, nullable=True),
        sa.Column("destination_id", sa.Uuid(), nullable=True),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("referral_text", sa.String(length=500), nullable=True),
        sa.Column("follow_up_due_at", _MOMENT, nullable=True),
        sa.Column("recorded_at", _MOMENT, nullable=False),
    )
    op.create_index("ix_call_outcome_agency_received", "call_outcome", ["agency_id", "received_at"])
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("call_id", sa.Uuid(), sa.ForeignKey("call.id"), nullable=False, unique=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", _MOMENT, nullable=False),
        sa.Column("due_at", _MOMENT, nullable=False),
        sa.Column("responder_id", sa.Uuid(), sa.ForeignKey("responder.id"), nullable=True),
        sa.Column("claimed_at", _MOMENT, nullable=True),
        sa.Column("completed_at", _MOMENT, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
    )
    op.create_index("ix_follow_up_agency_state_due", "follow_up", ["agency_id", "state", "due_at"])


def downgrade() -> None:
    op.drop_table("follow_up")
    op.drop_table("call_outcome")
    op.drop_table("provider_token")
    op.drop_table("resource")
