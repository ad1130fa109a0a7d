"""Repeat contacts without a registry of people (issue 21): each call's keys (keyed
hashes of its person, its place's cell) for a window, each agency's secret for the
hashes (agencies made before this get theirs here), and on each call the counts
its intake found.

Revision ID: 0013
Revises: 0012
"""

import secrets
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("call_id", sa.Uuid(), sa.ForeignKey("call.id"), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_key_lookup", "contact_key", ["agency_id", "key", "received_at"])
    op.create_index("ix_contact_key_call_id", "contact_key", ["call_id"])
    secret = op.create_table(
        "agency_secret",
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("person_secret", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("agency_id"),
    )
    # Plain ADD COLUMN: a batch copy of `call` would trip the foreign keys onto it.
    for name in ("repeat_person", "repeat_place", "repeat_window_days"):
        op.add_column("call", sa.Column(name, sa.Integer(), nullable=True))
    agencies = op.get_bind().execute(sa.text("SELECT id FROM agency")).scalars().all()
    if agencies:
        op.bulk_insert(
            secret,
            [
                {
                    "agency_id": a if isinstance(a, uuid.UUID) else uuid.UUID(a),
                    "person_secret": secrets.token_hex(32),
                }
                for a in agencies
            ],
        )


def downgrade() -> None:
    for name in ("repeat_window_days", "repeat_place", "repeat_person"):
        op.drop_column("call", name)
    op.drop_table("agency_secret")
    op.drop_index("ix_contact_key_call_id", table_name="contact_key")
    op.drop_index("ix_contact_key_lookup", table_name="contact_key")
    op.drop_table("contact_key")
