"""Refile responder positions under resolution-10 H3 cells (the search got finer).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from h3.api import basic_int as h3

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_responder = sa.table(
    "responder",
    sa.column("id", sa.Uuid()),
    sa.column("lat", sa.Float()),
    sa.column("lon", sa.Float()),
    sa.column("position_cell", sa.BigInteger()),
)


def _refile(res: int) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_responder.c.id, _responder.c.lat, _responder.c.lon).where(
            _responder.c.lat.is_not(None), _responder.c.lon.is_not(None)
        )
    ).all()
    for row in rows:
        connection.execute(
            _responder.update()
            .where(_responder.c.id == row.id)
            .values(position_cell=int(h3.latlng_to_cell(row.lat, row.lon, res)))
        )


def upgrade() -> None:
    _refile(10)


def downgrade() -> None:
    _refile(9)
