"""On SQLite the event loop's writes commit in batches: every write that arrived while
the last batch committed runs in one transaction, each in a savepoint of its own.
A batch must still behave, to every caller, like one transaction a write: a failing
write is undone alone and answers with its own error, the others commit and publish
their events in order, and a caller that goes away does not take its write with it."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models.agency import Agency, ApiToken
from models.vocabulary import Role
from service.agencies import create_agency, find_agency
from service.bus import Wake
from service.bus.memory import MemoryBus
from service.database import make_engine
from service.errors import Invalid
from service.migrate import upgrade
from service.prepared import Prepared
from service.settings import Settings
from service.unit_of_work import Tx, UnitOfWork
from tests.conftest import on_postgres

_RENAME = Prepared(
    update(Agency).where(col(Agency.id) == bindparam("b_id")).values(name=bindparam("b_name"))
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    if on_postgres():
        pytest.skip("the loop's writer is SQLite's; on PostgreSQL a write is a transaction")
    return Settings(database_url=f"sqlite:///{tmp_path / 'corespond.db'}")


def _loop_uow(settings: Settings, bus: MemoryBus) -> UnitOfWork:
    """A unit of work as the server makes it on SQLite: writes on the loop."""
    engine = make_engine(settings)
    upgrade(engine)
    return UnitOfWork(
        engine, bus, serialize_writes=True, loop_engine=make_engine(settings, lock_wait_s=0)
    )


def _new_agency(slug: str, *, then_fail: bool = False) -> Any:
    def work(tx: Tx) -> uuid.UUID:
        agency = create_agency(tx, slug=slug)
        tx.record("agency.created", agency_id=agency.id, data={"slug": slug})
        if then_fail:
            raise Invalid(f"{slug} was never meant to be")
        return agency.id

    return work


async def _published(wakes: AsyncIterator[Wake], count: int) -> list[str]:
    slugs: list[str] = []
    seqs: list[int] = []
    while len(slugs) < count:
        wake = await asyncio.wait_for(anext(wakes), timeout=5)
        slugs += [e.data["slug"] for e in wake.events]
        seqs += [e.seq for e in wake.events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"a gap in the seqs: {seqs}"
    return slugs


def test_a_write_that_fails_in_a_batch_is_undone_alone(settings: Settings) -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        wakes = bus.subscribe()
        uow = _loop_uow(settings, bus)
        # Started together, the four reach the writer together: one batch.
        answers = await asyncio.gather(
            uow.write(_new_agency("first")),
            uow.write(_new_agency("doomed", then_fail=True)),
            uow.write(_new_agency("second")),
            uow.write(_new_agency("first")),  # a Conflict: "first" is in the batch before it
            return_exceptions=True,
        )
        assert isinstance(answers[0], uuid.UUID) and isinstance(answers[2], uuid.UUID)
        assert isinstance(answers[1], Invalid) and "never meant" in str(answers[1])
        assert "already exists" in str(answers[3])
        # Published in order, with seqs one after another: the undone write's are gone.
        assert await _published(wakes, 2) == ["first", "second"]
        await uow.aclose()

        def slugs(tx: Tx) -> list[str | None]:
            return [
                getattr(find_agency(tx, slug=s), "slug", None)
                for s in ("first", "doomed", "second")
            ]

        assert uow.read_sync(slugs) == ["first", None, "second"]

    asyncio.run(scenario())


def test_a_failed_write_leaves_nothing_it_said_to_the_next_in_its_batch(
    settings: Settings,
) -> None:
    """A prepared statement's change is told to the session by hand (`loaded_now`); if
    the write then fails, the next write in the batch must not read what it said."""

    async def scenario() -> None:
        uow = _loop_uow(settings, MemoryBus())
        agency_id = await uow.write(_new_agency("county"))

        held: list[Agency | None] = []  # (the session only keeps what someone holds)

        def rename_then_fail(tx: Tx) -> None:
            held.append(tx.session.get(Agency, agency_id))  # now in the session
            tx.run(_RENAME, {"b_id": agency_id, "b_name": "Renamed"})
            tx.loaded_now(Agency, agency_id, name="Renamed")
            raise Invalid("changed its mind")

        def name(tx: Tx) -> str:
            agency = tx.session.get(Agency, agency_id)
            assert agency is not None
            return agency.name

        failed, seen = await asyncio.gather(
            uow.write(rename_then_fail), uow.write(name), return_exceptions=True
        )
        assert isinstance(failed, Invalid)
        assert seen == "county"
        await uow.aclose()

    asyncio.run(scenario())


def test_a_caller_that_goes_away_does_not_take_its_write_along(settings: Settings) -> None:
    async def scenario() -> None:
        uow = _loop_uow(settings, MemoryBus())
        caller = asyncio.create_task(uow.write(_new_agency("kept")))
        await asyncio.sleep(0)  # the write is queued
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await uow.aclose()
        assert uow.read_sync(lambda tx: find_agency(tx, slug="kept")) is not None

    asyncio.run(scenario())


def test_the_loop_serves_between_two_writes_of_a_batch(settings: Settings) -> None:
    """A batch of thirty is thirty writes' work: what became ready meanwhile (the
    frames of the last batch's events, new requests) must not wait for all of it."""

    async def scenario() -> None:
        uow = _loop_uow(settings, MemoryBus())
        served: list[str] = []

        def first(tx: Tx) -> None:
            asyncio.get_running_loop().call_soon(served.append, "socket")

        def second(tx: Tx) -> list[str]:
            return list(served)

        _, seen = await asyncio.gather(uow.write(first), uow.write(second))
        assert seen == ["socket"]
        await uow.aclose()

    asyncio.run(scenario())


def test_a_batch_whose_commit_fails_fails_every_write_in_it_and_writes_nothing(
    settings: Settings,
) -> None:
    """The commit is the batch's: when it fails (here a foreign key that SQLite checks
    only at COMMIT), no caller of the batch may be told its write went through."""

    def orphan_token(tx: Tx) -> None:
        tx.connection().exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        tx.session.add(ApiToken(agency_id=uuid.uuid4(), role=Role.cad, token_hash="0" * 64))
        tx.session.flush()  # accepted now, refused at COMMIT

    async def scenario() -> None:
        bus = MemoryBus()
        wakes = bus.subscribe()
        uow = _loop_uow(settings, bus)
        answers = await asyncio.gather(
            uow.write(_new_agency("innocent")), uow.write(orphan_token), return_exceptions=True
        )
        assert [type(a) for a in answers] == [IntegrityError, IntegrityError]
        with pytest.raises(TimeoutError):  # nothing was published
            await asyncio.wait_for(anext(wakes), timeout=0.3)
        await uow.aclose()
        assert uow.read_sync(lambda tx: find_agency(tx, slug="innocent")) is None

    asyncio.run(scenario())


def test_each_batch_and_each_write_is_counted(settings: Settings) -> None:
    """The writer's metrics: one observation a batch (its writes, how long it held the
    turn) and one a write (asked to answered), failures included."""
    batches: list[tuple[int, float]] = []
    writes: list[float] = []

    async def scenario() -> None:
        engine = make_engine(settings)
        upgrade(engine)
        uow = UnitOfWork(
            engine,
            MemoryBus(),
            serialize_writes=True,
            loop_engine=make_engine(settings, lock_wait_s=0),
            observe_write=writes.append,
            observe_batch=lambda size, seconds: batches.append((size, seconds)),
        )
        await asyncio.gather(
            uow.write(_new_agency("one")),
            uow.write(_new_agency("two", then_fail=True)),
            uow.write(_new_agency("three")),
            return_exceptions=True,
        )
        await uow.write(_new_agency("alone"))
        await uow.aclose()

    asyncio.run(scenario())
    assert [size for size, _ in batches] == [3, 1]
    assert all(seconds > 0 for _, seconds in batches)
    assert len(writes) == 4 and all(w > 0 for w in writes)
