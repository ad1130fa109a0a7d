"""The delivery process, seen from the serving process: started while any endpoint is
enabled, fed the hub's events, answering the writes it asks for, and stopped with the
server.

Deliveries first ran on the serving loop, then on a thread of its own: under the load
benchmark (50 calls a second, three endpoints taking every event) the thread's Python
took turns with the serving loop's for the GIL, and POST → offer's p99 went from 21 ms
to 356 ms. In a process of its own it has its own GIL.

The serving loop's part is the feed: the hub hands it each event in seq order (a tap),
with the dispatchers' consoles' encoding of it, which the hub has made for them
already; the events of agencies with an endpoint go down the pipe as they are
(`feed.Feeder`). So the delivery process reads the log only to catch up (a new claim, a
retry, a redelivery): it read each agency's new events every 20 ms and encoded them
again, a fifth of its CPU, taken from the cores the offers run on.

It runs only while an endpoint is enabled (some 100 MB of memory): looked for every
`CHECK_S`, and at once when this replica changes one (`endpoints_changed`); it is
stopped about `IDLE_S` after the last one went. One that ends by itself (killed, out of
memory) is started again after `RESTART_PAUSE_S`; the leases it held lapse, and the
next claim sends from the cursors, as after a replica's crash. It never outlives the
server: stopped with it; and if the server ends without stopping it (killed), its end
of the pipe closes and it ends within `child.STOP_WAIT_S`.
"""

import asyncio
import contextlib
import multiprocessing
import pickle
import time
import uuid
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import structlog

from models.agency import Principal
from models.event import EventMessage
from service.errors import say
from service.web.state import AppState
from service.webhooks import channel, child, outbox, spawned
from service.webhooks.feed import Feeder
from service.webhooks.run import wait_for

log = structlog.get_logger(__name__)

CHECK_S = 1.0  # whether an endpoint is enabled is read this often while none is
RUNNING_CHECK_S = 10.0  # and this often while the process runs
IDLE_S = 60.0  # the process is stopped this long after the last endpoint went
RESTART_PAUSE_S = 1.0
STOP_WAIT_S = child.STOP_WAIT_S + 5.0  # then it is killed


class DeliveryProcess:
    """One delivery process at a time, for the app whose state this is."""

    def __init__(self, state: AppState) -> None:
        self._state = state
        self._process: BaseProcess | None = None
        self._wakes: asyncio.WriteTransport | None = None
        self._answers: asyncio.WriteTransport | None = None  # the same, until it ends
        self._asks: asyncio.ReadTransport | None = None
        self._feeder: Feeder | None = None
        self._starting: asyncio.Future[None] | None = None
        self._look = asyncio.Event()  # poked, or the process ended
        self._ended = False
        self._writing: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._process is not None

    def take(self, event: EventMessage, text_for: Callable[[Principal], str]) -> None:
        """The hub delivered `event` (its tap): feed it down."""
        if self._feeder is not None:
            self._feeder.take(event, text_for)

    def endpoints_changed(self) -> None:
        """This replica registered, removed or redelivered an endpoint."""
        self._look.set()
        if self._wakes is not None and not self._wakes.is_closing():
            self._wakes.write(channel.frame(channel.ENDPOINTS))

    async def keep(self) -> None:
        """Start, restart and stop the process as endpoints come and go, until
        cancelled (`stop` ends it)."""
        wanted_at = -IDLE_S
        while True:
            self._look.clear()
            if self._ended:
                log.error("webhook_process_ended", detail="started again")
                await self.stop()
                await asyncio.sleep(RESTART_PAUSE_S)
            try:
                agencies: set[uuid.UUID] | None = await self._state.uow.read(
                    outbox.agencies_with_endpoints
                )
            except Exception:
                log.exception("webhook_endpoints_unread")
                agencies = None  # as they were
            wanted = self.running if agencies is None else bool(agencies)
            if wanted:
                wanted_at = time.monotonic()
                if not self.running:
                    try:
                        await self.start()
                    except Exception:
                        log.exception("webhook_process_not_started")
                        await self.stop()
                if self._feeder is not None and agencies is not None:
                    self._feeder.feed(agencies)
            elif self.running and time.monotonic() - wanted_at >= IDLE_S:
                await self.stop()
            await wait_for(self._look, RUNNING_CHECK_S if self.running else CHECK_S)

    async def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        wakes_in, wakes_out = context.Pipe(duplex=False)
        asks_in, asks_out = context.Pipe(duplex=False)
        process = context.Process(
            target=spawned.serve,
            args=(pickle.dumps(self._state.settings), wakes_in, asks_out),
            name="corespond-webhooks",
            daemon=True,  # ended by multiprocessing's exit handler, should `stop` not run
        )
        self._ended = False
        self._process = process
        # In a thread (the first start also starts multiprocessing's resource tracker);
        # shielded, so that a `stop` meanwhile finds it started.
        self._starting = asyncio.ensure_future(asyncio.to_thread(process.start))
        await asyncio.shield(self._starting)
        # Only the process holds its ends now: when it ends, its pipe reads as closed.
        wakes_in.close()
        asks_out.close()
        loop = asyncio.get_running_loop()
        self._wakes, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, wakes_out)
        self._answers = self._wakes
        self._feeder = Feeder(self._wakes, self._state.hub.delivered_through)
        self._asks, _ = await loop.connect_read_pipe(
            lambda: channel.FrameReader(self._on_ask, lambda: self._on_end(process)), asks_in
        )
        log.info("webhook_process_starting", pid=process.pid)

    async def stop(self) -> None:
        """Tell the process to stop and wait for it (it gives its claims back, a
        while), then kill it if it has not ended."""
        process, self._process = self._process, None
        if self._feeder is not None:
            self._feeder.close()
            self._feeder = None
        wakes, self._wakes = self._wakes, None
        if wakes is not None and not wakes.is_closing():
            wakes.write(channel.frame(channel.STOP))
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
            self._starting = None
        if process is not None and process.pid is not None:
            if wakes is None:  # stopped while starting: it never heard from this one
                process.terminate()
            await asyncio.to_thread(process.join, STOP_WAIT_S)
            if process.is_alive():
                log.warning("webhook_process_killed", waited_s=STOP_WAIT_S)
                process.kill()
                await asyncio.to_thread(process.join, STOP_WAIT_S)
        self._answers = None
        if wakes is not None:
            wakes.close()
        asks, self._asks = self._asks, None
        if asks is not None:
            asks.close()
        self._ended = False

    def _on_ask(self, kind: bytes, payload: bytes) -> None:
        if kind != channel.ASK:
            return
        ask, name, kwargs = pickle.loads(payload)  # noqa: S301 (our own process's)
        # Answered down this pipe even while stopping: a stopped run writes its last
        # round (`run.Run.go`), and the pipe stays open until the process ends.
        answers = self._answers
        if answers is None:
            return
        task = asyncio.get_running_loop().create_task(self._write(ask, name, kwargs, answers))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write(
        self, ask: int, name: str, kwargs: dict[str, object], answers: asyncio.WriteTransport
    ) -> None:
        """Make a write the process asked for (a round's: in this process's writer's
        batches, and its events published by this process's bus) and answer how it
        went."""
        try:
            value = await self._state.uow.write(outbox.SERVER_WRITES[name], **kwargs)
            answer = (ask, True, value)
        except Exception as exc:
            log.exception("webhook_write_failed", write=name)
            answer = (ask, False, say(exc))
        if not answers.is_closing():
            answers.write(channel.frame(channel.ANSWER, pickle.dumps(answer)))

    def _on_end(self, process: BaseProcess) -> None:
        """The process's end of the pipe closed: it ended (or is ending)."""
        if self._process is process:  # not one stopped already
            self._ended = True
            self._look.set()


async def stopped(process: DeliveryProcess, keeper: asyncio.Task[None]) -> None:
    """Stop `keeper`, then the process (at the app's end)."""
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    await process.stop()
