"""Initial schema: agencies, tokens, responders, calls, assignments, the event log.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("offer_timeout_s", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    counter = op.create_table(
        "event_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(counter, [{"id": 1, "last_seq": 0}])
    op.create_table(
        "call",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("weapon", sa.Boolean(), nullable=False),
        sa.Column("violence", sa.Boolean(), nullable=False),
        sa.Column("medical", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("narrative", sa.String(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_mode", sa.String(length=16), nullable=False),
        sa.Column("plan_reason", sa.String(length=500), nullable=False),
        sa.Column("plan_ems", sa.Boolean(), nullable=False),
        sa.Column("plan_roles", sa.JSON(), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.create_index("ux_call_external_id", ["agency_id", "external_id"], unique=True)

    op.create_table(
        "event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("responder_id", sa.Uuid(), nullable=True),
        sa.Column("assignment_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_agency_seq", ["agency_id", "seq"], unique=False)
        batch_op.create_index("ix_event_responder_seq", ["responder_id", "seq"], unique=False)

    op.create_table(
        "responder",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("cit_certified_until", sa.Date(), nullable=True),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("position_cell", sa.BigInteger(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("responder", schema=None) as batch_op:
        batch_op.create_index(
            "ix_responder_search", ["agency_id", "kind", "status", "position_cell"], unique=False
        )
        batch_op.create_index("ux_responder_external_id", ["agency_id", "external_id"], unique=True)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("responder_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
        ),
        sa.ForeignKeyConstraint(
            ["responder_id"],
            ["responder.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("responder_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("en_route_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["call.id"],
        ),
        sa.ForeignKeyConstraint(
            ["responder_id"],
            ["responder.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignment_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assignment_responder_id"), ["responder_id"], unique=False
        )
        batch_op.create_index(
            "ux_assignment_active_responder",
            ["responder_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
            postgresql_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
        )
        batch_op.create_index(
            "ux_assignment_active_role",
            ["call_id", "role"],
            unique=True,
            sqlite_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
            postgresql_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_assignment_active_role",
            sqlite_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
            postgresql_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
        )
        batch_op.drop_index(
            "ux_assignment_active_responder",
            sqlite_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
            postgresql_where=sa.text("state IN ('offered', 'accepted', 'en_route', 'on_scene')"),
        )
        batch_op.drop_index(batch_op.f("ix_assignment_responder_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_call_id"))

    op.drop_table("assignment")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_agency_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("responder", schema=None) as batch_op:
        batch_op.drop_index("ux_responder_external_id")
        batch_op.drop_index("ix_responder_search")

    op.drop_table("responder")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_responder_seq")
        batch_op.drop_index("ix_event_agency_seq")

    op.drop_table("event")
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_index("ux_call_external_id")

    op.drop_table("call")
    op.drop_table("event_counter")
    op.drop_table("agency")
