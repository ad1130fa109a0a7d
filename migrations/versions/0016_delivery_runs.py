"""The webhook delivery log keeps a round's deliveries as one entry, a run of events
(`through_seq`, `events`): an entry an event was written with every round, in the
serving process's batches beside the offers'. An entry of before is a run of one.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_delivery",
        sa.Column("through_seq", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column(
        "webhook_delivery", sa.Column("events", sa.Integer(), nullable=False, server_default="1")
    )
    op.execute("UPDATE webhook_delivery SET through_seq = seq")


def downgrade() -> None:
    with op.batch_alter_table("webhook_delivery") as batch:
        batch.drop_column("events")
        batch.drop_column("through_seq")
