"""What the buses shared by several replicas have in common.

A batch published here reaches this process's hub at once, with no network in
between, and goes into an outbox that a sender task empties into the transport:
a slow or lost connection never holds up the request that committed. A receiver
task keeps one subscription open, and when it drops, says so in the log, retries
with backoff, and on getting it back tells the hub that messages may be lost
(the hub then reads what it missed from the event log, which has everything).
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog

from models.event import EventMessage
from service.errors import say
from service.live.bus.base import Wake, decode, encode
from service.live.bus.memory import LocalFanout

log = structlog.get_logger(__name__)

DEFAULT_CHANNEL = "corespond.events"
OUTBOX = 10_000  # batches waiting to go out before the oldest are dropped
FIRST_RETRY_S = 0.1
LAST_RETRY_S = 5.0
CHECK_TIMEOUT_S = 2.0


def split_channel(url: str) -> tuple[str, str]:
    """The URL without its `channel` query parameter, and the channel it names."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    channel = next((v for k, v in query if k == "channel"), DEFAULT_CHANNEL)
    rest = urlencode([(k, v) for k, v in query if k != "channel"])
    return urlunsplit(parts._replace(query=rest)), channel


class SharedBus:
    """The common part; a backend supplies `_listen`, `_send`, `_ping` and `_close`."""

    name = "shared"
    payload_limit: int | None = None  # bytes a message may take on the transport

    def __init__(self) -> None:
        self._origin = uuid.uuid4().hex[:16]
        self._local = LocalFanout()
        self._outbox: asyncio.Queue[Sequence[EventMessage]] = asyncio.Queue(OUTBOX)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self.up = False
        self.problem: str | None = "not connected yet"
        self.send_failures = 0

    # The transport.
    def _listen(self) -> AsyncIterator[str | None]:
        """Subscribe, yield None once subscribed, then each message's text; raise when
        the connection is lost."""
        raise NotImplementedError

    async def _send(self, message: str) -> None:
        raise NotImplementedError

    async def _ping(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    # The interface.
    async def connect(self, wait_s: float = 5.0) -> None:
        """Start sending and receiving; wait (a little) for the subscription, so a
        replica that starts while the bus is down still starts, and says why in /readyz."""
        self._tasks = [
            asyncio.create_task(self._send_forever(), name=f"{self.name}-bus-send"),
            asyncio.create_task(self._receive_forever(), name=f"{self.name}-bus-receive"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), wait_s)

    async def disconnect(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._local.clear()
        await self._close()

    def publish(self, events: Sequence[EventMessage]) -> None:
        if not events:
            return
        self._local.put(Wake.of(events))
        if self._outbox.full():
            self._outbox.get_nowait()
            log.warning(
                "bus_outbox_full", dropped="the oldest batch; replicas read it from the log"
            )
        self._outbox.put_nowait(events)

    def subscribe(self) -> AsyncIterator[Wake]:
        return self._local.subscribe()

    async def check(self) -> None:
        if not self.up:
            raise ConnectionError(self.problem or "not subscribed")
        await asyncio.wait_for(self._ping(), CHECK_TIMEOUT_S)

    # The two tasks.
    async def _send_forever(self) -> None:
        delay = FIRST_RETRY_S
        while True:
            events = await self._outbox.get()
            try:
                await self._send(encode(self._origin, events, limit=self.payload_limit))
                delay = FIRST_RETRY_S
            except Exception as exc:
                # Dropped, not retried: the other replicas find it in the log when they
                # see a later seq, reconnect, or check the log's head.
                self.send_failures += 1
                log.warning(
                    "bus_send_failed", bus=self.name, error=say(exc), through=events[-1].seq
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY_S)

    async def _receive_forever(self) -> None:
        delay = FIRST_RETRY_S
        lost = False
        while True:
            try:
                async for message in self._listen():
                    if message is None:
                        self.up, self.problem, delay = True, None, FIRST_RETRY_S
                        self._subscribed.set()
                        if lost:
                            log.info("bus_reconnected", bus=self.name)
                            self._local.put(Wake(events=(), through=None, local=False))
                        continue
                    self._take(message)
                raise ConnectionError("the subscription ended")
            except Exception as exc:
                self.up, self.problem, lost = False, say(exc), True
                log.warning(
                    "bus_connection_lost", bus=self.name, error=self.problem, retry_in_s=delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY_S)

    def _take(self, message: str) -> None:
        if message.startswith(self._origin + " "):
            return  # our own, already delivered here
        try:
            _, wake = decode(message)
        except Exception as exc:
            log.warning("bus_message_unreadable", bus=self.name, error=say(exc))
            return
        self._local.put(wake)
