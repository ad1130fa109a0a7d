"""The delivery process: the deliverer on an event loop of its own, in a process of its
own (`process.DeliveryProcess` starts it, at `spawned.serve`, which lowers its priority
and then imports this), so its Python never takes turns with the serving loop's for
the GIL.

It opens its own engine from the server's `Settings` and makes its own reads and its
rare writes (claims, releases), but the frequent one, a round's (cursor, delivery log,
lease, a failure), is asked of the serving process (`ParentStore.write_in_server`):

- a failed round may give the endpoint up and record `webhook.disabled`. Events are
  published by the process that commits them; on SQLite the bus lives in the serving
  process, and only it hands seqs to the consoles in order;
- a write of this process's own took the database's write lock between the offers'
  a few times a second, and held it while this process, at a lower priority, waited
  for a core: the serving loop's writer found the file locked 121 times in a 45 s load
  run (25 calls/s, three endpoints), pausing the offers' batch each time. Asked, the
  round goes into one of that writer's batches.

It ends when the serving process says `STOP` or its end of the pipe closes (that
process ended, however).
"""

import asyncio
import itertools
import os
import pickle
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog

from service.logs import configure_logging
from service.settings import Settings
from service.store.engine import make_engine
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.webhooks import channel
from service.webhooks.deliverer import Deliverer
from service.webhooks.feed import Feed
from service.webhooks.tail import Doorbell

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

STOP_WAIT_S = 10.0  # given back its claims within this, or it ends without


class Unanswered(Exception):
    """The serving process did not answer a write (it stopped)."""


class ParentStore:
    """The delivery process's unit of work: its own reads (on its loop) and rare writes,
    and the rounds' writes, which the serving process makes (`outbox.SERVER_WRITES`)."""

    def __init__(self, uow: UnitOfWork, asks: asyncio.WriteTransport) -> None:
        self._uow = uow
        self._asks = asks
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}

    async def read(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        # On the loop itself: it has nothing else to do meanwhile but take the pipe's
        # frames and the receivers' answers, which wait a millisecond; a worker thread's
        # hand-offs (`Condition.wait`, `notify`) were a tenth of this process's CPU,
        # which it takes from the cores the serving process runs on.
        return self._uow.read_sync(fn, *args, **kwargs)

    async def write(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await self._uow.write(fn, *args, **kwargs)

    async def write_in_server(self, fn: Callable[..., T], **kwargs: Any) -> T:
        if self._asks.is_closing():
            raise Unanswered("the serving process is gone")
        ask = next(self._ids)
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting[ask] = answer
        try:
            self._asks.write(channel.frame(channel.ASK, pickle.dumps((ask, fn.__name__, kwargs))))
            return await answer
        finally:
            self._waiting.pop(ask, None)

    def answered(self, payload: bytes) -> None:
        ask, ok, value = pickle.loads(payload)  # noqa: S301 (the serving process's own)
        answer = self._waiting.get(ask)
        if answer is not None and not answer.done():
            if ok:
                answer.set_result(value)
            else:
                answer.set_exception(Unanswered(value))

    def gone(self) -> None:
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(Unanswered("the serving process is gone"))


def serve(settings: Settings, wakes: Connection, asks: Connection) -> None:
    """The process's main, once `spawned.serve` has put it behind the server: deliver
    until told to stop."""
    configure_logging(settings.log_level)
    try:
        import uvloop  # what uvicorn serves on, where installed
    except ImportError:  # pragma: no cover (it is, with uvicorn[standard])
        asyncio.run(_deliver(settings, wakes, asks))
    else:
        uvloop.run(_deliver(settings, wakes, asks))


async def _deliver(settings: Settings, wakes: Connection, asks: Connection) -> None:
    # On SQLite its commits do not wait for the disk, so they hold the file's write lock,
    # which the serving loop's writes wait for, the shortest time. They are on the disk
    # at the server's next commit (one WAL file, synced whole), and one lost to a power
    # cut meanwhile only sends deliveries again (receivers take each seq once).
    engine = make_engine(settings.model_copy(update={"sqlite_synchronous": "NORMAL"}))
    loop = asyncio.get_running_loop()
    out, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, asks)
    store = ParentStore(UnitOfWork(engine, bus=None, serialize_writes=False), out)
    doorbell = Doorbell()
    feed = Feed()
    deliverer = Deliverer(store, doorbell, feed, settings)
    main = asyncio.create_task(deliverer.run(), name="webhooks")

    def stop() -> None:
        if not main.done():
            main.cancel()
            # Giving the claims back must not keep a process whose server is gone.
            loop.call_later(STOP_WAIT_S, os._exit, 0)

    def on_frame(kind: bytes, payload: bytes) -> None:
        if kind == channel.FEED:
            fed = channel.fed_of(payload)
            feed.take(fed)
            agencies = fed.agencies
            doorbell.ring(None if agencies is None else [uuid.UUID(bytes=a) for a in agencies])
        elif kind == channel.ENDPOINTS:
            deliverer.endpoints_changed()
        elif kind == channel.ANSWER:
            store.answered(payload)
        elif kind == channel.STOP:
            stop()

    def on_end() -> None:
        store.gone()
        stop()

    await loop.connect_read_pipe(lambda: channel.FrameReader(on_frame, on_end), wakes)
    log.info("webhook_process_started", pid=os.getpid())
    try:
        await main
    except asyncio.CancelledError:
        pass
    except Exception:
        log.exception("webhook_process_failed")
    finally:
        out.close()
        engine.dispose()
