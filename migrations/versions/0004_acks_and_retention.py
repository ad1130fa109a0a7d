"""Console acks per token, and the retention watermark of the event log.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(
            sa.Column("acked_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("event_counter") as batch:
        batch.add_column(
            sa.Column("purged_through", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("event_counter") as batch:
        batch.drop_column("purged_through")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("acked_seq")
