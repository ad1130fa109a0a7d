"""On SQLite the event loop's writes commit in batches: every write that arrived while
the last batch committed runs in one transaction, each in a savepoint of its own.
A batch must still behave, to every caller, like one transaction a write: a failing
write is undone alone and answers with its own error, the others commit and publish
their events in order, and a caller that goes away does not take its write with it."""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlmodel import col

from models.agency import Agency, ApiToken
from models.event import EventMessage
from models.vocabulary import Role
from service.agencies.operations import create_agency, find_agency
from service.errors import Invalid, Unavailable
from service.live.bus import Wake
from service.live.bus.memory import MemoryBus
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from tests.conftest import on_postgres

_RENAME = Prepared(
    update(Agency).where(col(Agency.id) == bindparam("b_id")).values(name=bindparam("b_name"))
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    if on_postgres():
        pytest.skip("the loop's writer is SQLite's; on PostgreSQL a write is a transaction")
    return Settings(database_url=f"sqlite:///{tmp_path / 'corespond.db'}")


def _loop_uow(settings: Settings, bus: MemoryBus, **observers: Any) -> UnitOfWork:
    """A unit of work as the server makes it on SQLite: writes on the loop (with the
    metrics' `observe_*` callables given)."""
    engine = make_engine(settings)
    upgrade(engine)
    return UnitOfWork(
        engine,
        bus,
        serialize_writes=True,
        loop_engine=make_engine(settings, lock_wait_s=0),
        **observers,
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
    """The writer's metrics: one observation a batch (the writes it committed, how long
    it held the turn), and for each write its time from asked to answered and its own
    work, failures included."""
    batches: list[tuple[int, float]] = []
    writes: list[float] = []
    work: list[float] = []

    async def scenario() -> None:
        uow = _loop_uow(
            settings,
            MemoryBus(),
            observe_write=writes.append,
            observe_batch=lambda size, seconds: batches.append((size, seconds)),
            observe_work=work.append,
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
    assert [size for size, _ in batches] == [2, 1]  # what each committed: not the failed one
    assert all(seconds > 0 for _, seconds in batches)
    assert len(writes) == 4 and all(w > 0 for w in writes)
    assert len(work) == 4 and all(w > 0 for w in work)  # each write's own work, failed or not
    assert sum(work) < sum(writes)  # (its work is within its time from asked to answered)


class _CountingBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def publish(self, events: Sequence[EventMessage]) -> None:
        self.batches += 1
        super().publish(events)


@pytest.mark.parametrize("commits", [True, False], ids=["commit succeeds", "commit fails"])
def test_a_writer_stopped_while_its_batch_commits_still_answers_and_frees_the_turn(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, commits: bool
) -> None:
    """Cancelled while its batch commits in a worker thread (the loop going away), the
    writer leaves the commit to finish: after it, and not before, its callers are
    answered (with the commit's error if it failed), its events published (if it
    did not) and the write turn given back. A write queued behind that batch is
    refused at once (no writer is left to make it); the next write goes through."""
    committing, go_on = threading.Event(), threading.Event()
    commit = Session.commit

    def slow_commit(session: Session) -> None:
        committing.set()
        go_on.wait(timeout=5)
        if not commits:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        commit(session)

    async def scenario() -> None:
        bus = _CountingBus()
        wakes = bus.subscribe()
        uow = _loop_uow(settings, bus)
        monkeypatch.setattr(Session, "commit", slow_commit)
        caller = asyncio.ensure_future(uow.write(_new_agency("late")))
        assert await asyncio.to_thread(committing.wait, 5)
        queued = asyncio.ensure_future(uow.write(_new_agency("queued")))
        await asyncio.sleep(0)  # queued behind the committing batch
        writer = uow._writer
        assert writer is not None
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        with pytest.raises(Unavailable):
            await asyncio.wait_for(queued, timeout=1)
        assert not caller.done() and bus.batches == 0  # the commit's outcome is not known yet
        go_on.set()
        if commits:
            late = await asyncio.wait_for(caller, timeout=5)
            assert await _published(wakes, 1) == ["late"]
        else:
            with pytest.raises(OperationalError, match="disk I/O error"):
                await asyncio.wait_for(caller, timeout=5)
        monkeypatch.setattr(Session, "commit", commit)
        await asyncio.wait_for(uow.write(_new_agency("next")), timeout=5)
        await uow.aclose()
        assert bus.batches == (2 if commits else 1)  # ("next" published too)

        def agencies(tx: Tx) -> list[Agency | None]:
            return [find_agency(tx, slug=slug) for slug in ("late", "queued", "next")]

        found = uow.read_sync(agencies)
        assert (found[0] is not None and found[0].id == late) if commits else found[0] is None
        assert found[1] is None and found[2] is not None

    asyncio.run(scenario())


def test_a_writer_stopped_before_its_batch_commits_writes_none_of_it_and_says_so(
    settings: Settings,
) -> None:
    """Cancelled between two writes of a batch, the writer rolls the batch back, its
    callers are told their writes were not made (not left waiting), and the turn is
    given back."""

    async def scenario() -> None:
        uow = _loop_uow(settings, MemoryBus())

        def first(tx: Tx) -> uuid.UUID:
            assert uow._writer is not None
            asyncio.get_running_loop().call_soon(uow._writer.cancel)  # before the second
            return create_agency(tx, slug="first").id

        answers = await asyncio.wait_for(
            asyncio.gather(
                uow.write(first), uow.write(_new_agency("second")), return_exceptions=True
            ),
            timeout=5,
        )
        assert [type(a) for a in answers] == [Unavailable, Unavailable]
        await asyncio.wait_for(uow.write(_new_agency("third")), timeout=5)
        await uow.aclose()

        def agencies(tx: Tx) -> list[Agency | None]:
            return [find_agency(tx, slug=slug) for slug in ("first", "second", "third")]

        found = uow.read_sync(agencies)
        assert found[:2] == [None, None] and found[2] is not None

    asyncio.run(scenario())


def test_a_batch_whose_session_fails_to_close_still_answers_and_frees_the_turn(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the commit is done, nothing after it may keep the callers from hearing how
    it went, nor keep the write turn: not even the session failing to close."""
    close = Session.close
    failures = [RuntimeError("the connection went away while closing")]

    def close_badly(session: Session) -> None:
        close(session)
        if failures:
            raise failures.pop()

    async def scenario() -> None:
        uow = _loop_uow(settings, MemoryBus())
        monkeypatch.setattr(Session, "close", close_badly)
        written = await asyncio.wait_for(uow.write(_new_agency("closed-badly")), timeout=5)
        assert not failures  # the close did fail
        after = await asyncio.wait_for(uow.write(_new_agency("after")), timeout=5)
        await uow.aclose()

        def agencies(tx: Tx) -> list[Agency | None]:
            return [find_agency(tx, slug=slug) for slug in ("closed-badly", "after")]

        found = uow.read_sync(agencies)
        assert [a.id if a else None for a in found] == [written, after]

    asyncio.run(scenario())
