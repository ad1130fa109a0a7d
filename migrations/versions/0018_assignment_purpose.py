"""What an offer is for (a seat of the team, a missed check-in's backup, an emergency's
backup) is kept with the assignment; it was told by the role's name before, which a
programme's own kind named `backup` could share.

Existing backup offers are found where they were listed: an emergency's `backup` and a
missed check-in's `backup` (assignment ids, as JSON lists).

Revision ID: 0018
Revises: 0017
"""

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LISTS = (("checkin", "checkin_backup"), ("emergency", "emergency_backup"))


def upgrade() -> None:
    op.add_column(
        "assignment",
        sa.Column("purpose", sa.String(length=16), nullable=False, server_default="team"),
    )
    connection = op.get_bind()
    assignment = sa.table("assignment", sa.column("id", sa.Uuid()), sa.column("purpose"))
    for table, purpose in _LISTS:
        listed = sa.table(table, sa.column("backup", sa.JSON()))
        for (backup,) in connection.execute(sa.select(listed.c.backup)):
            ids = json.loads(backup) if isinstance(backup, str) else backup
            if ids:
                connection.execute(
                    assignment.update()
                    .where(assignment.c.id.in_([uuid.UUID(i) for i in ids]))
                    .values(purpose=purpose)
                )


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("purpose")
