"""Apply the Alembic migrations from code, on the service's own engine."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

import migrations
from service.store.engine import take_turns


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["engine"] = engine
    return config


# Replicas starting together migrate one at a time (PostgreSQL); the others then
# find the schema current. (SQLite's own write lock does the same.)
MIGRATION_LOCK_KEY = 0x436F4D69  # "CoMi"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every start, by every replica."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        take_turns(connection, MIGRATION_LOCK_KEY)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
