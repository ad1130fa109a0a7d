"""The delivery thread: the webhooks' own event loop, beside the one that serves.

Deliveries were first run on the serving loop. Under the load benchmark (50 calls a
second, three endpoints taking every event: about 1,100 POSTs a second) that loop went
from 59 % to 74 % busy, with POST → offer waiting behind it: each delivery is a send,
a wake and a read of its socket plus their Python. On a thread of their own (58-62 %)
the system calls run beside the serving loop (the GIL is let go in them) and the
Python takes turns with it at the interpreter's switch interval
(`CORESPOND_GIL_SWITCH_INTERVAL_S`) instead of queueing among its callbacks.

Three things cross between the loops: the bus's wakes (as rings of the delivery loop's
doorbell), writes (run by the serving loop's unit of work: one writer a process, on
SQLite on that loop, so webhook writes take their turn with every other), and the stop.
Reads run in worker threads from either loop.
"""

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import structlog

from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

STOP_WAIT_S = 10.0

P = ParamSpec("P")
T = TypeVar("T")


class Store(Protocol):
    """What the deliveries ask of the unit of work."""

    async def read(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    async def write(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...


class ServingLoopStore:
    """The unit of work as the delivery thread uses it: reads in worker threads, writes
    handed to the serving loop's writer and awaited here."""

    def __init__(self, uow: UnitOfWork, serving: asyncio.AbstractEventLoop) -> None:
        self._uow = uow
        self._serving = serving

    async def read(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await self._uow.read(fn, *args, **kwargs)

    async def write(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        done: Future[T] = asyncio.run_coroutine_threadsafe(
            self._uow.write(fn, *args, **kwargs), self._serving
        )
        return await asyncio.wrap_future(done)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # what uvicorn serves on, where installed
    except ImportError:  # pragma: no cover (it is, with uvicorn[standard])
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class DeliveryThread:
    """Runs `main()` on an event loop in a thread of its own until `stop`."""

    def __init__(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._main = main
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def call(self, fn: Callable[..., object], *args: Any) -> None:
        """Run `fn(*args)` on the delivery loop, soon (from the serving loop)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    async def stop(self) -> None:
        """Cancel `main` (it may still write through the serving loop) and wait for the
        thread to end, a while: a stop must not hang on it (the thread is a daemon)."""
        if self._task is not None:
            self.call(self._task.cancel)
        await asyncio.to_thread(self._thread.join, STOP_WAIT_S)
        if self._thread.is_alive():
            log.warning("webhook_thread_still_running", waited_s=STOP_WAIT_S)

    def _serve(self) -> None:
        loop = self._loop = _new_loop()
        asyncio.set_event_loop(loop)
        self._task = loop.create_task(self._main(), name="webhooks")
        self._ready.set()
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("webhook_thread_failed")
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
