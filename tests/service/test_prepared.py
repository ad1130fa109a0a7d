"""Prepared statements, the hot path's way past SQLAlchemy's per-statement machinery,
must write and read exactly what the ORM does, on each backend of the run."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col

from models.agency import Principal
from models.call import Call
from models.event import Event, EventMessage
from models.vocabulary import CallStatus, Category, Role
from service.agencies.operations import create_agency
from service.live.events import events_after, events_between
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.prepared import Prepared, _fields, inserting, transient
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from tests.conftest import database_url

_INSERT = Prepared(insert(Event))
_EVENT = SQLModel.metadata.tables["event"]
_READ = Prepared(select(*_EVENT.columns).where(col(Event.seq) == bindparam("seq")))
_RETYPE_CALL_EVENT = Prepared(
    update(Event)
    .where(
        col(Event.seq) == bindparam("b_seq"),
        col(Event.type).in_(["call.created", "call.updated"]),
    )
    .values(type=bindparam("b_type"))
)


@pytest.fixture
def uow(tmp_path: Path) -> Iterator[UnitOfWork]:
    engine = make_engine(Settings(database_url=database_url(tmp_path)))
    upgrade(engine)
    yield UnitOfWork(engine, bus=None, serialize_writes=True)
    engine.dispose()


def _agency(uow: UnitOfWork) -> uuid.UUID:
    return uow.write_sync(lambda tx: create_agency(tx, slug="county").id)


def _event(agency_id: uuid.UUID, seq: int, **data: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "agency_id": agency_id,
        "at": datetime(2026, 11, 30, 23, 5, 7, 123456, tzinfo=UTC),
        "type": "call.updated",
        "call_id": uuid.uuid4(),
        "responder_id": None,
        "assignment_id": uuid.uuid4(),
        "data": {"status": CallStatus.dispatched, "missing": [], **data},
    }


def test_an_event_written_prepared_reads_back_the_same_through_the_orm_and_prepared(
    uow: UnitOfWork,
) -> None:
    agency_id = _agency(uow)
    written = [_event(agency_id, 1), _event(agency_id, 2, note="naïve ✓")]
    uow.write_sync(lambda tx: tx.run_many(_INSERT, written))

    def read(tx: Tx) -> tuple[list[Any], list[Any]]:
        orm = [tx.session.get(Event, e["seq"]) for e in written]
        prepared = [tx.run(_READ, {"seq": e["seq"]}).scalar_one_or_none() for e in written]
        rows = [tx.run(_READ, {"seq": e["seq"]}).first() for e in written]
        assert prepared == [1, 2]
        return orm, rows

    orm, rows = uow.read_sync(read)
    for expected, by_orm, row in zip(written, orm, rows, strict=True):
        assert by_orm is not None
        assert by_orm.model_dump() == {
            **expected,
            "data": {**expected["data"], "status": "dispatched"},
        }
        assert row._asdict() == by_orm.model_dump()
        assert row.at.tzinfo is not None and row.at == expected["at"]  # UTC, to the µs
        assert isinstance(row.call_id, uuid.UUID)


def test_the_event_log_read_prepared_is_what_the_orm_reads_for_each_view(
    uow: UnitOfWork,
) -> None:
    """What a console resumes with, a webhook is sent and the hub fills gaps with,
    read through prepared statements: the same messages, in the same order, as loading
    the events through the ORM, for a dispatcher's view and a responder's."""
    county, other = _agency(uow), uow.write_sync(lambda tx: create_agency(tx, slug="city").id)
    responder_id = uuid.uuid4()
    written = [
        _event(county, 1),
        _event(other, 2, note="another agency's"),
        {
            **_event(county, 3, note="naïve ✓", nested={"a": [1, None]}),
            "responder_id": responder_id,
        },
        {**_event(county, 4), "call_id": None, "assignment_id": None, "type": "agency.updated"},
        {**_event(county, 5), "responder_id": responder_id},
        {**_event(county, 6), "responder_id": uuid.uuid4()},
    ]
    uow.write_sync(lambda tx: tx.run_many(_INSERT, written))
    dispatcher = Principal(
        token_id=uuid.uuid4(), agency_id=county, agency_slug="county", role=Role.dispatcher
    )
    responder = dispatcher.model_copy(update={"role": Role.responder, "responder_id": responder_id})

    def by_orm(tx: Tx, *where: Any) -> list[EventMessage]:
        query = select(Event).where(*where).order_by(col(Event.seq))
        return [
            EventMessage.model_validate(e, from_attributes=True)
            for e in tx.session.execute(query).scalars()
        ]

    def read(tx: Tx) -> None:
        of_county = col(Event.agency_id) == county
        assert events_after(tx, principal=dispatcher, after=0, limit=100) == by_orm(tx, of_county)
        assert [m.seq for m in by_orm(tx, of_county)] == [1, 3, 4, 5, 6]
        assert events_after(tx, principal=dispatcher, after=3, limit=2) == by_orm(
            tx, of_county, col(Event.seq).in_([4, 5])
        )
        mine = by_orm(tx, of_county, col(Event.responder_id) == responder_id)
        assert [m.seq for m in mine] == [3, 5]
        assert events_after(tx, principal=responder, after=0, limit=100) == mine
        assert events_after(tx, principal=responder, after=3, limit=100) == mine[1:]
        assert events_between(tx, after=1, through=5) == by_orm(
            tx, col(Event.seq) > 1, col(Event.seq) <= 5
        )
        assert [m.seq for m in events_between(tx, after=1, through=5)] == [2, 3, 4, 5]
        assert events_between(tx, after=6, through=9) == []

    uow.read_sync(read)


def test_an_in_list_of_constants_decides_which_rows_change(uow: UnitOfWork) -> None:
    agency_id = _agency(uow)
    offered = {**_event(agency_id, 2), "type": "assignment.offered"}
    uow.write_sync(lambda tx: tx.run_many(_INSERT, [_event(agency_id, 1), offered]))

    def retype(tx: Tx) -> list[int]:
        return [
            tx.run(_RETYPE_CALL_EVENT, {"b_seq": seq, "b_type": "call.closed"}).rowcount
            for seq in (1, 2, 3)
        ]

    assert uow.write_sync(retype) == [1, 0, 0]
    types = uow.read_sync(lambda tx: [tx.session.get(Event, s).type for s in (1, 2)])  # type: ignore[union-attr]
    assert types == ["call.closed", "assignment.offered"]


def test_a_refused_statement_is_sqlalchemys_error_and_nothing_of_its_transaction_stays(
    uow: UnitOfWork,
) -> None:
    agency_id = _agency(uow)
    uow.write_sync(lambda tx: tx.run(_INSERT, _event(agency_id, 1)))

    def twice(tx: Tx) -> None:
        tx.run(_INSERT, _event(agency_id, 2))
        tx.run(_INSERT, _event(agency_id, 1))  # seq 1 is taken

    with pytest.raises(IntegrityError):
        uow.write_sync(twice)
    seqs = uow.read_sync(lambda tx: tx.session.execute(select(col(Event.seq))).scalars().all())
    assert list(seqs) == [1]


def test_what_a_prepared_statement_cannot_do_is_refused_with_the_reason(
    uow: UnitOfWork,
) -> None:
    varying_in = Prepared(
        select(col(Event.seq)).where(col(Event.seq).in_(bindparam("seqs", expanding=True)))
    )
    with pytest.raises(ValueError, match="seqs: an IN list must be constants"):
        uow.read_sync(lambda tx: tx.run(varying_in, {"seqs": [1]}))
    defaulted = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer, default=1)
    )
    with pytest.raises(ValueError, match="without Python-side column defaults: give n"):
        uow.read_sync(lambda tx: tx.run(Prepared(insert(defaulted)), {"id": 1}))


def test_a_prepared_statement_sees_what_the_session_holds_and_the_session_sees_what_it_wrote(
    uow: UnitOfWork,
) -> None:
    agency_id = _agency(uow)
    uow.write_sync(lambda tx: tx.run(_INSERT, _event(agency_id, 1)))

    def both_ways(tx: Tx) -> tuple[Any, str, str]:
        loaded = tx.session.get(Event, 1)
        assert loaded is not None
        loaded.type = "call.created"  # pending in the session, not yet flushed
        seen = tx.run(_READ, {"seq": 1}).first()
        assert seen is not None
        held = Event.model_validate(_event(agency_id, 1))  # read elsewhere, not the session's
        tx.run(_RETYPE_CALL_EVENT, {"b_seq": 1, "b_type": "call.closed"})
        tx.loaded_now(Event, 1, held=held, type="call.closed")
        return seen.type, loaded.type, held.type

    assert uow.write_sync(both_ways) == ("call.created", "call.closed", "call.closed")
    kept = uow.read_sync(lambda tx: tx.session.get(Event, 1).type)  # type: ignore[union-attr]
    assert kept == "call.closed"  # the session did not write its stale copy back


_CALL_FIELDS: dict[str, Any] = {
    "lat": 40.12,
    "lon": -75.34,
    "category": Category.welfare_check,
    "priority": 2,
    "status": CallStatus.pending,
    "plan_rule": "no safety flag",
    "plan_team": "clinician",
    "plan_reason": "no weapon, no violence",
    "plan_roles": [{"role": "clinician", "kind": "clinician"}],
    "received_at": datetime(2026, 12, 1, 6, 5, tzinfo=UTC),
}


def test_a_transient_object_is_what_the_constructor_makes_and_reads_back_the_same(
    uow: UnitOfWork,
) -> None:
    agency_id = _agency(uow)
    made = transient(Call, {**_CALL_FIELDS, "agency_id": agency_id})
    built = Call(**_CALL_FIELDS, agency_id=agency_id)
    # Every default, each object its own id and creation time.
    assert made.model_dump(exclude={"id", "created_at"}) == built.model_dump(
        exclude={"id", "created_at"}
    )
    assert made.id != built.id != transient(Call, {**_CALL_FIELDS, "agency_id": agency_id}).id
    assert made.created_at.tzinfo is not None and made.closed_at is None and not made.weapon
    assert made.plan_roles is _CALL_FIELDS["plan_roles"]  # given values are held as given

    insert_call, values_of = inserting(Call)
    uow.write_sync(lambda tx: tx.run(insert_call, values_of(made)))
    stored = uow.read_sync(lambda tx: tx.session.get(Call, made.id))
    assert stored is not None  # (read back, the enums are their strings)
    assert stored.model_dump(warnings=False) == made.model_dump()


def test_a_transient_object_names_what_is_missing_or_unknown() -> None:
    with pytest.raises(TypeError, match=r"^Call needs agency_id, priority$"):
        transient(Call, {k: v for k, v in _CALL_FIELDS.items() if k != "priority"})
    with pytest.raises(TypeError, match=r"^Call has no colour$"):
        transient(Call, {**_CALL_FIELDS, "agency_id": uuid.uuid4(), "colour": "red"})


class _Tagged(SQLModel):  # (not a table: only its fields are read)
    tags: list[str] = []
    note: str | None = None


def test_a_changeable_default_is_made_afresh_for_each_object() -> None:
    optional, required, _ = _fields(_Tagged)
    makers = {name: (default, make) for name, default, make in optional}
    assert required == frozenset() and makers["note"] == (None, None)  # shared: constant
    make = makers["tags"][1]
    assert make is not None
    first, second = make(), make()
    assert first == second == [] and first is not second
