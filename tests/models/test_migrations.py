"""The Alembic migrations build exactly the schema the models describe."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from models.tables import metadata
from service.database import make_engine
from service.migrate import upgrade
from service.settings import Settings


def test_migrations_and_models_agree(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrating_twice_changes_nothing_and_seeds_the_event_counter(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    upgrade(engine)
    upgrade(engine)
    assert "assignment" in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT last_seq FROM event_counter")).scalar_one() == 0
