"""Access and audit: the append-only audit trail, and what an agency shows officers.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NO_UPDATE = "audit records are append-only"


def upgrade() -> None:
    # A plain ADD COLUMN: a batch copy of `agency` would trip the foreign keys onto it.
    for name in ("officers_see_narrative", "officers_see_substance_use"):
        op.add_column(
            "agency", sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "audit_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=True),
        sa.Column("token_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("responder_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_agency_id", "audit_record", ["agency_id", "id"])
    op.create_index("ix_audit_at", "audit_record", ["at"])
    # Even a direct database client cannot rewrite history; retention may still delete.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
            f"BEGIN SELECT RAISE(ABORT, '{_NO_UPDATE}'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION audit_record_no_update() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{_NO_UPDATE}'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
            "FOR EACH ROW EXECUTE FUNCTION audit_record_no_update()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_record_no_update")
    else:
        op.execute("DROP TRIGGER audit_record_no_update ON audit_record")
        op.execute("DROP FUNCTION audit_record_no_update()")
    op.drop_table("audit_record")
    with op.batch_alter_table("agency") as batch:
        batch.drop_column("officers_see_substance_use")
        batch.drop_column("officers_see_narrative")
