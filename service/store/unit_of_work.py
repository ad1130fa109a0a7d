"""One transaction per request or socket action; events published after commit.

Service functions take a `Tx`, change rows, record events and flush; they never
commit. `UnitOfWork.write` owns the session: it gives the recorded events their
seqs, commits, and only then publishes them.
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

import structlog
from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.event import EventMessage
from service.errors import Unavailable
from service.store.engine import LOCK_WAIT_S, is_locked_elsewhere, take_turns
from service.store.transaction import Tx, Witness

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# On PostgreSQL every write transaction first takes this transaction-scoped advisory
# lock: writes take turns across all replicas, as SQLite's BEGIN IMMEDIATE makes them
# take turns in one process, so every decision reads state no other replica is
# changing meanwhile (who is free, what a waiting call still needs).
WRITE_LOCK_KEY = 0x436F5265  # "CoRe"
# On SQLite, a batch of writes on the loop that finds the file locked by another
# process (a `corespond` command, the sqlite3 shell) tries again after each pause,
# the loop serving on meanwhile, for as long as a thread would wait for the lock.
FIRST_LOCK_PAUSE_S = 0.0005
LAST_LOCK_PAUSE_S = 0.05


class Publisher(Protocol):
    """Where committed events go (the live bus); the store knows no more of it."""

    def publish(self, messages: list[EventMessage]) -> None: ...


def _fail(units: Sequence["_Unit"], error: BaseException) -> None:
    """Answer with `error` each caller not answered yet."""
    for unit in units:
        if not unit.answer.done():
            unit.answer.set_exception(error)


@dataclass(eq=False, slots=True)
class _Unit:
    """One write waiting for the loop's writer: its work, its actor, its answer."""

    work: Callable[[Tx], Any]
    actor: Witness | None
    answer: asyncio.Future[Any]
    result: Any = None
    messages: list[EventMessage] = field(default_factory=list)
    committing: bool = False  # its batch's commit has begun: the commit answers it


class UnitOfWork:
    """Runs service functions, each in its own transaction: reads in worker threads
    (but `read_briefly`), writes on the event loop or in worker threads.

    With `loop_engine` (SQLite) writes run on the event loop itself, through that
    engine, which never waits for a lock: writers take turns anyway and a write never
    waits on the network, while a write thread gave up the GIL at every SQLite call
    and waited to get it back from a loop busy with a thousand sockets, all the while
    holding the write turn (bench/HISTORY.md measured 2 ms of work holding it for 5).
    One writer task runs them in batches (group commit): the writes that arrived
    while the last batch committed run one after another in one transaction, each
    in a savepoint of its own (one that fails is undone alone and answers its caller
    with its error), and the batch commits once, in a worker thread, so the event
    loop serves sockets while the disk syncs; then each write's events are
    published, in order, and each caller answered (also when the writer is cancelled
    while the thread commits; cancelled before, it rolls the batch back, and its
    callers and those queued behind it are told their writes were not made: none is
    left waiting). A batch that finds the file
    locked by another process (a `corespond` command) waits for it without stopping
    the loop. On PostgreSQL, where a write waits for the database and for other
    replicas' turns, every write runs in a thread, a transaction each.
    """

    def __init__(
        self,
        engine: Engine,
        bus: Publisher | None,
        *,
        serialize_writes: bool,
        loop_engine: Engine | None = None,
        on_commit: Callable[[list[EventMessage]], None] | None = None,
        observe_write: Callable[[float], None] | None = None,
        observe_batch: Callable[[int, float], None] | None = None,
        observe_work: Callable[[float], None] | None = None,
    ) -> None:
        self._read_engine = engine
        self._write_engine = engine.execution_options(begin="IMMEDIATE")
        self._loop_write_engine = (
            loop_engine.execution_options(begin="IMMEDIATE") if loop_engine else None
        )
        self._loop_read_engine = loop_engine
        self._bus = bus
        self._on_commit = on_commit
        self._observe_write = observe_write  # seconds from asking to the answer
        self._observe_batch = observe_batch  # writes in a batch, seconds it held the turn
        self._observe_work = observe_work  # seconds of a write's own work, before its commit
        # SQLite runs one writer at a time anyway; taking turns here as well keeps
        # commit order and publish order the same, so consoles see seqs in order.
        self._write_lock: threading.Lock | None = threading.Lock() if serialize_writes else None
        self._pending: list[_Unit] = []  # writes for the loop's writer, in arrival order
        self._more = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    async def write(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await self._run_write(lambda tx: fn(tx, *args, **kwargs), None)

    async def write_as(
        self,
        actor: Witness,
        fn: Callable[Concatenate[Tx, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`write`, with the actor's audit record committed in the same transaction."""
        return await self._run_write(lambda tx: fn(tx, *args, **kwargs), actor)

    async def _run_write(self, work: Callable[[Tx], T], actor: Witness | None) -> T:
        started = time.perf_counter()
        try:
            return await self._written(work, actor)
        finally:
            if self._observe_write is not None:
                self._observe_write(time.perf_counter() - started)

    async def _written(self, work: Callable[[Tx], T], actor: Witness | None) -> T:
        loop = asyncio.get_running_loop()
        if self._loop_write_engine is None or self._write_lock is None:
            return await to_thread.run_sync(lambda: self._locked_write(work, actor, loop=loop))
        unit = _Unit(work, actor, loop.create_future())
        self._pending.append(unit)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_batches(), name="writer")
        self._more.set()
        # Shielded: a caller that goes away does not take its write out of a batch.
        return cast(T, await asyncio.shield(unit.answer))

    async def aclose(self) -> None:
        """Let the loop's writer finish what is pending, then stop it."""
        self._closing = True
        self._more.set()
        if self._writer is not None:
            await self._writer

    async def _write_batches(self) -> None:
        batch: list[_Unit] = []
        try:
            while True:
                await self._more.wait()
                self._more.clear()
                while self._pending:
                    batch, self._pending = self._pending, []
                    try:
                        await self._write_batch(batch)
                    except Exception as exc:  # the transaction failed whole: so did each write
                        _fail(batch, exc)
                    batch = []
                if self._closing:
                    return
        except BaseException:  # cancelled (the loop going away)
            # A batch whose commit a thread runs is answered by it; none of the rest
            # was written, and no writer is left to write it.
            unwritten = [unit for unit in batch if not unit.committing] + self._pending
            self._pending = []
            _fail(unwritten, Unavailable("the server is stopping: not written; send it again"))
            raise

    async def _write_batch(self, batch: list[_Unit]) -> None:
        session = await self._begin_on_loop()
        began = time.perf_counter()
        written: list[_Unit] = []
        try:
            for unit in batch:
                # Between two writes the loop serves what is ready (the frames of the
                # last batch's events, new requests): a batch of 30 is 30 writes' work.
                await asyncio.sleep(0)
                if self._run_unit(session, unit, len(batch) == 1):
                    written.append(unit)
            # The commit's fsync is most of a small write: in a thread, with the GIL
            # let go, while the loop serves; the batch still holds the write turn.
            loop = asyncio.get_running_loop()
            commit = loop.run_in_executor(None, session.commit) if written else None
        except BaseException:  # cancelled, or no thread to commit in: nothing written
            self._end_on_loop(session)
            raise
        if commit is None:
            self._end_on_loop(session)
            return
        # What follows the commit runs when it ends, even if this writer is cancelled
        # meanwhile: the thread commits on, and its callers are still told how it went.
        for unit in written:
            unit.committing = True
        commit.add_done_callback(lambda _: self._batch_committed(session, written, commit, began))
        await asyncio.shield(commit)

    def _batch_committed(
        self, session: Session, written: list[_Unit], commit: asyncio.Future[None], began: float
    ) -> None:
        """After a batch's commit (never cancelled: shielded): the session ends and the
        turn is given back; then, if it committed, each write's events are published,
        in order, and each caller answered; if not, each caller gets the commit's
        error."""
        try:
            self._end_on_loop(session)  # (the turn is given back whatever the close says)
        except Exception:  # what the commit did stands: the callers must still hear it
            log.exception("write_session_close_failed")
        if (failure := commit.exception()) is not None:
            _fail(written, failure)
            return
        if self._observe_batch is not None:
            self._observe_batch(len(written), time.perf_counter() - began)
        for unit in written:
            try:
                self._committed(unit.actor, unit.messages, None)
            except Exception:  # written all the same: the hub finds its events in the log
                log.exception("publish_failed", events=len(unit.messages))
            if not unit.answer.done():
                unit.answer.set_result(unit.result)

    def _work(
        self, tx: Tx, work: Callable[[Tx], T], actor: Witness | None
    ) -> tuple[T, list[EventMessage]]:
        """A write's work, with its actor's audit record, and its events numbered and
        written: all a write does before its commit (timed, failed or not)."""
        started = time.perf_counter()
        try:
            result = work(tx)
            if actor is not None:
                actor.witness(tx)
            return result, tx.seal()
        finally:
            if self._observe_work is not None:
                self._observe_work(time.perf_counter() - started)

    def _run_unit(self, session: Session, unit: _Unit, alone: bool) -> bool:
        """Run one write of a batch (in a savepoint unless it is alone); False, with its
        caller answered by the error, if it failed and was undone."""
        savepoint = None if alone else session.begin_nested()
        try:
            unit.result, unit.messages = self._work(Tx(session), unit.work, unit.actor)
            if savepoint is not None:
                savepoint.commit()
        except Exception as exc:
            if savepoint is not None:
                savepoint.rollback()
                # What prepared statements said of objects (`loaded_now`) is undone too.
                session.expire_all()
            unit.answer.set_exception(exc)
            return False
        return True

    async def _begin_on_loop(self) -> Session:
        """A write transaction on the loop's engine, holding the write turn. SQLite
        answers busy at once when another process writes: try again after a pause,
        longer each time, for as long as a thread would wait (the engine's timeout)."""
        assert self._loop_write_engine is not None and self._write_lock is not None
        deadline = time.monotonic() + LOCK_WAIT_S
        pause = FIRST_LOCK_PAUSE_S
        while True:
            if self._write_lock.acquire(blocking=False):  # a thread here may be writing
                session = Session(self._loop_write_engine, expire_on_commit=False)
                try:
                    session.connection()  # BEGIN IMMEDIATE
                    return session
                except BaseException as exc:
                    self._end_on_loop(session)
                    if not is_locked_elsewhere(exc) or time.monotonic() > deadline:
                        raise
            if pause == FIRST_LOCK_PAUSE_S:
                log.info("write_waits_for_lock", detail="the database is locked elsewhere")
            await asyncio.sleep(pause)
            pause = min(pause * 2, LAST_LOCK_PAUSE_S)

    def _end_on_loop(self, session: Session) -> None:
        """Close a loop write's session (rolling back what it did not commit) and give
        up the write turn, whatever the closing says."""
        assert self._write_lock is not None
        try:
            session.close()
        finally:
            self._write_lock.release()

    async def read(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await to_thread.run_sync(lambda: self.read_sync(fn, *args, **kwargs))

    async def read_briefly(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`read`, for a read of a few rows by an index that every request makes (the
        token check): with `loop_engine` (SQLite) on the event loop, where a WAL reader
        never waits for the writer and the worker thread's hop cost more than the read.
        If SQLite still answers busy, the read runs in a worker thread after all."""
        engine = self._loop_read_engine
        if engine is not None:
            try:
                with Session(engine, expire_on_commit=False) as session:
                    return fn(Tx(session), *args, **kwargs)
            except OperationalError as exc:
                if not is_locked_elsewhere(exc):
                    raise
        return await self.read(fn, *args, **kwargs)

    def write_sync(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn` in a write transaction; commit; publish what it recorded."""
        return self._locked_write(lambda tx: fn(tx, *args, **kwargs))

    def write_as_sync(
        self,
        actor: Witness,
        fn: Callable[Concatenate[Tx, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`write_sync`, with the actor's audit record in the same transaction."""
        return self._locked_write(lambda tx: fn(tx, *args, **kwargs), actor)

    def read_sync(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with Session(self._read_engine, expire_on_commit=False) as session:
            return fn(Tx(session), *args, **kwargs)

    def _locked_write(
        self,
        work: Callable[[Tx], T],
        actor: Witness | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> T:
        if self._write_lock is None:
            return self._write(work, actor, loop)
        with self._write_lock:
            return self._write(work, actor, loop)

    def _write(
        self,
        work: Callable[[Tx], T],
        actor: Witness | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> T:
        with Session(self._write_engine, expire_on_commit=False) as session:
            take_turns(session.connection(), WRITE_LOCK_KEY)
            result, messages = self._work(Tx(session), work, actor)
            session.commit()
        self._committed(actor, messages, loop)
        return result

    def _committed(
        self,
        actor: Witness | None,
        messages: list[EventMessage],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        """After a write's commit: its audit record counts, its events are published
        (on the loop's thread: from another, through `loop`)."""
        if actor is not None:
            actor.recorded = True
        if messages and self._on_commit is not None:
            self._on_commit(messages)
        if messages and self._bus is not None:
            if loop is None:
                self._bus.publish(messages)
            else:
                # Handed to the event loop without waiting for it: under the write lock,
                # so batches reach the loop in commit order, and the next writer does
                # not wait for a busy loop to get round to it.
                with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                    loop.call_soon_threadsafe(self._bus.publish, messages)
