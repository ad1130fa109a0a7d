"""The Alembic migrations build exactly the schema the models describe."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from h3.api import basic_int as h3
from sqlalchemy import Engine, inspect, text

from dispatch.cells import position_cell
from models.tables import metadata
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from tests.conftest import database_url


def test_migrations_and_models_agree(tmp_path: Path) -> None:
    """On the backend under test (`--backend`)."""
    engine = make_engine(Settings(database_url=database_url(tmp_path)))
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_migrating_twice_changes_nothing_and_seeds_the_event_counter(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    upgrade(engine)
    upgrade(engine)
    assert "assignment" in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT last_seq FROM event_counter")).scalar_one() == 0


def test_positions_filed_before_the_finer_search_are_refiled(tmp_path: Path) -> None:
    engine = _with_agency(tmp_path, "0004")
    old_cell = h3.latlng_to_cell(40.1215, -75.3399, 9)
    ids = {"agency": AGENCY, "responder": "b" * 32, "cell": old_cell}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO responder (id, agency_id, kind, name, credentials, languages, "
                "skills, status, lat, lon, position_cell, status_changed_at, created_at) "
                "VALUES (:responder, :agency, 'clinician', 'R', '[]', '[]', '[]', 'available', "
                "40.1215, -75.3399, :cell, '2026-01-01', '2026-01-01')"
            ),
            ids,
        )
    upgrade(engine)
    with engine.connect() as connection:
        cell = connection.execute(text("SELECT position_cell FROM responder")).scalar_one()
    assert cell == position_cell(40.1215, -75.3399) != old_cell


def test_delivery_log_entries_of_before_the_runs_are_runs_of_one(tmp_path: Path) -> None:
    engine = _with_agency(tmp_path, "0015")
    ids = {"agency": AGENCY, "endpoint": "e" * 32}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook_endpoint (id, agency_id, url, events, secret, created_at, "
                "cursor, attempts) VALUES (:endpoint, :agency, 'https://93.184.215.14/', "
                "'[\"*\"]', 's', '2026-01-01', 7, 0)"
            ),
            ids,
        )
        for seq, status in ((6, "delivered"), (7, "retrying")):
            connection.execute(
                text(
                    "INSERT INTO webhook_delivery (endpoint_id, seq, event, status, attempts, "
                    "first_tried_at, last_tried_at) VALUES (:endpoint, :seq, 'call.created', "
                    ":status, 1, '2026-01-01', '2026-01-01')"
                ),
                {**ids, "seq": seq, "status": status},
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT seq, through_seq, events, status FROM webhook_delivery ORDER BY seq")
        ).all()
    assert [tuple(r) for r in rows] == [(6, 6, 1, "delivered"), (7, 7, 1, "retrying")]


AGENCY = "a" * 32  # the agency `_with_agency` writes


def _with_agency(tmp_path: Path, revision: str) -> Engine:
    """A SQLite database migrated up to `revision`, holding one agency, written as
    rows were then: what a later migration must carry over."""
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    upgrade(engine, revision)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO agency (id, slug, name, offer_timeout_s, created_at) "
                "VALUES (:agency, 'a', 'A', 60, '2026-01-01')"
            ),
            {"agency": AGENCY},
        )
    return engine


def test_backup_offers_of_before_the_purpose_are_told_by_the_lists_that_named_them(
    tmp_path: Path,
) -> None:
    engine = _with_agency(tmp_path, "0017")
    ids = {"agency": AGENCY, "responder": "b" * 32, "call": "c" * 32}
    assignments = {"team": "1" * 32, "checkin_backup": "2" * 32, "emergency_backup": "3" * 32}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO responder (id, agency_id, kind, name, credentials, languages, "
                "skills, status, status_changed_at, created_at) VALUES (:responder, :agency, "
                "'officer', 'R', '[]', '[]', '[]', 'available', '2026-01-01', '2026-01-01')"
            ),
            ids,
        )
        connection.execute(
            text(
                "INSERT INTO call (id, agency_id, lat, lon, category, weapon, violence, medical, "
                "priority, status, plan_ems, plan_roles, received_at, created_at) VALUES "
                "(:call, :agency, 40.1, -75.3, 'welfare_check', 0, 0, 0, 2, 'dispatched', 0, "
                "'[]', '2026-01-01', '2026-01-01')"
            ),
            ids,
        )
        roles = ("backup", "backup", "backup_2")
        for role, assignment in zip(roles, assignments.values(), strict=True):
            connection.execute(
                text(
                    "INSERT INTO assignment (id, agency_id, call_id, responder_id, role, state, "
                    "eta_s, distance_m, offered_at, offer_expires_at) VALUES (:id, :agency, "
                    ":call, :responder, :role, 'declined', 1, 1, '2026-01-01', '2026-01-01')"
                ),
                {**ids, "id": assignment, "role": role},
            )
        # The team's seat of a kind the programme named `backup` is listed by nobody.
        listed = '["22222222-2222-2222-2222-222222222222"]'
        connection.execute(
            text(
                "INSERT INTO checkin (id, agency_id, assignment_id, responder_id, call_id, "
                "state, due_at, grace_until, backup) VALUES (:id, :agency, :assignment, "
                ":responder, :call, 'missed', '2026-01-01', '2026-01-01', :backup)"
            ),
            {**ids, "id": "d" * 32, "assignment": assignments["team"], "backup": listed},
        )
        connection.execute(
            text(
                "INSERT INTO emergency (id, agency_id, responder_id, call_made, backup, "
                "backup_wanted, raised_at, raised_by) VALUES (:id, :agency, :responder, 0, "
                ":backup, 1, '2026-01-01', 'r')"
            ),
            {**ids, "id": "e" * 32, "backup": listed.replace("2", "3")},
        )
    upgrade(engine)
    with engine.connect() as connection:
        rows = {
            row.id: row.purpose
            for row in connection.execute(text("SELECT id, purpose FROM assignment"))
        }
    assert rows == {assignment: purpose for purpose, assignment in assignments.items()}
