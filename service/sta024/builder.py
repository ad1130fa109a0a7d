"""The subscriptions' reads, in a process of their own.

Building an EIDO is Python work (half a millisecond, mostly models). In a worker thread
of the server it holds the GIL in turns with the event loop, and every write on the
loop waits for it: with one subscriber, a load run at 25 calls/s saw each write's own
work grow by a fifth and POST -> offer's p99 several times over, and none of it when the
EIDOs were not built. So the feed's reads and the starting EIDOs are read and built in
one worker process, which has its own GIL and its own database connection (a reader,
beside the server's writes), and hands back the EIDOs encoded. It runs while there are
subscriptions (it takes some 150 MB), and ends with the server, however that ends.

Its own process still shares the machine's cores with the server: its start (the
imports, seconds of CPU on a busy machine) and each feed's tick (a second's changed
incidents built at once) took a core from the event loop making offers, on two cores:
a load run at 50 calls/s with ten subscribers fell seconds behind. So the worker runs
behind the server (`service.priority`: the idle class, set before its own heavy
imports): the scheduler lets it have what the server leaves, and a CAD's notification
waits rather than a dispatcher's offer. What runs in the worker is `service.sta024.worker`.
"""

import asyncio
import atexit
import multiprocessing
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import structlog

from models.agency import Principal
from service.settings import Settings
from service.sta024 import worker
from service.sta024.operations import Built, News, Scope

log = structlog.get_logger(__name__)

IDLE_S = 60.0  # the worker is stopped this long after the last subscription ended


class Builder:
    """The worker process, started while an agency has subscriptions (`hold`), and
    stopped a minute after the last ends (`release`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._holds = 0
        self._stopping: asyncio.TimerHandle | None = None

    def hold(self) -> None:
        self._holds += 1
        if self._stopping is not None:
            self._stopping.cancel()
            self._stopping = None
        if self._pool is None:
            self._pool = self._start()

    def release(self) -> None:
        self._holds -= 1
        if self._holds <= 0 and self._stopping is None:
            self._stopping = asyncio.get_running_loop().call_later(IDLE_S, self.close)

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded server
            initializer=worker.open_worker,
            initargs=(self.settings.database_url, self.settings.sqlite_synchronous, os.getpid()),
        )
        atexit.register(pool.shutdown, wait=True, cancel_futures=True)
        pool.submit(os.getpid)  # the worker starts now, not at the first EIDO
        return pool

    async def news(self, principal: Principal, after: int, scopes: Sequence[Scope]) -> News:
        """`operations.read_news`, in the worker process."""
        return await self._run(worker.news, principal, after, list(scopes))  # type: ignore[no-any-return]

    async def built(
        self, principal: Principal, call_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Built]:
        """`operations.built_eidos`, in the worker process."""
        return await self._run(worker.built, principal, list(call_ids))  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the worker (it starts again when next held)."""
        self._stopping = None
        pool, self._pool = self._pool, None
        if pool is not None:
            atexit.unregister(pool.shutdown)
            pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, work: Any, *args: Any) -> Any:
        if self._pool is None:
            self._pool = self._start()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        except BrokenProcessPool:
            # The worker died (killed, out of memory): a new one for the next try.
            log.error("sta024_builder_restarted")
            self.close()
            raise


_BUILDER = "corespond_sta024_builder"


def builder_of(app_state: Any, settings: Settings) -> Builder:
    """The builder of the app whose Starlette `app.state` this is, started on first use
    for the settings its lifespan built (a new lifespan, a new builder)."""
    builder = getattr(app_state, _BUILDER, None)
    if not isinstance(builder, Builder) or builder.settings is not settings:
        if isinstance(builder, Builder):
            builder.close()
        builder = Builder(settings)
        setattr(app_state, _BUILDER, builder)
    return builder


def close_builder(app_state: Any) -> None:
    """Stop the app's worker, if one was started (the app's lifespan, at its end)."""
    builder = getattr(app_state, _BUILDER, None)
    if isinstance(builder, Builder):
        builder.close()
