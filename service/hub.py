"""The WebSocket hub: fans committed events out to the consoles that may see them.

Each console has a bounded queue and its own sender task, so a slow socket never
slows the others or the request that published: when its queue is full the
console is closed, and it catches up by resuming from the event log.
"""

import asyncio
import contextlib
import uuid
from collections import defaultdict
from typing import Any

import structlog
from fastapi import WebSocket

from models.agency import Principal
from models.columns import iso_utc
from models.event import EventMessage
from service.access import may_see_event
from service.bus import Bus
from service.disclosure import redact_event_data
from service.metrics import Metrics

log = structlog.get_logger(__name__)

CLOSE_TOO_SLOW = 1013  # "try again later": reconnect and resume
CLOSE_BAD_TOKEN = 4401


def event_frame(event: EventMessage, principal: Principal) -> dict[str, Any]:
    """The event as `principal` may see it."""
    return {
        "type": "event",
        "seq": event.seq,
        "event": event.type,
        "at": iso_utc(event.at),
        "data": redact_event_data(event.data, principal),
    }


class Console:
    """One connected console: who it is, and what is waiting to be sent to it."""

    def __init__(self, websocket: WebSocket, principal: Principal, queue_size: int) -> None:
        self.websocket = websocket
        self.principal = principal
        # (seq, frame) for events, (None, frame) for replies to the console's messages.
        self._queue: asyncio.Queue[tuple[int | None, dict[str, Any]]] = asyncio.Queue(queue_size)
        self.sent_through = 0  # the highest seq already sent (replayed events count)
        self.acked = 0  # the highest seq the console said it has
        self.overflowed = False
        self._sender: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    def push(self, event: EventMessage) -> bool:
        """Queue `event`; False when this push found the queue full."""
        return self._put(event.seq, event_frame(event, self.principal))

    def reply(self, frame: dict[str, Any]) -> None:
        """Queue an answer to the console's own message, in line with its events."""
        self._put(None, frame)

    def _put(self, seq: int | None, frame: dict[str, Any]) -> bool:
        if self.overflowed:
            return True
        try:
            self._queue.put_nowait((seq, frame))
        except asyncio.QueueFull:
            self.overflowed = True
            # The sender is most likely stuck in a send the peer never reads, so a
            # message in the queue would never be seen: stop it from outside.
            self._closer = asyncio.get_running_loop().create_task(self._close_too_slow())
            return False
        return True

    def start(self) -> asyncio.Task[None]:
        self._sender = asyncio.create_task(self._send_events(), name="console-sender")
        return self._sender

    async def _send_events(self) -> None:
        """Send queued frames in order, skipping events the catch-up already sent."""
        while True:
            seq, frame = await self._queue.get()
            if seq is not None and seq <= self.sent_through:
                continue
            await self.websocket.send_json(frame)
            if seq is not None:
                self.sent_through = seq

    async def _close_too_slow(self) -> None:
        await self.close(CLOSE_TOO_SLOW, "console too slow; reconnect and resume")

    async def close(self, code: int, reason: str) -> None:
        """Stop sending and close the socket (its reader then sees the disconnect)."""
        self.overflowed = True  # nothing more is queued
        if self._sender is not None:
            self._sender.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code, reason), timeout=5)


class Hub:
    def __init__(self, bus: Bus, metrics: Metrics) -> None:
        self._bus = bus
        self._metrics = metrics
        self._consoles: dict[uuid.UUID, set[Console]] = defaultdict(set)
        self._acks: dict[uuid.UUID, int] = {}  # token -> last seq acked, not yet stored

    @property
    def console_count(self) -> int:
        return sum(len(c) for c in self._consoles.values())

    async def run(self) -> None:
        """Deliver every event the bus brings, until cancelled."""
        async for event in self._bus.subscribe():
            self.deliver(event)

    def deliver(self, event: EventMessage) -> None:
        for console in self._consoles.get(event.agency_id, ()):
            if may_see_event(console.principal, event) and not console.push(event):
                self._metrics.consoles_dropped.inc()
                log.warning("console_too_slow", token_id=str(console.principal.token_id))

    def note_ack(self, token_id: uuid.UUID, seq: int) -> None:
        """Keep a responder console's ack until the next flush (see `take_acks`)."""
        if seq > self._acks.get(token_id, 0):
            self._acks[token_id] = seq

    def take_acks(self, token_id: uuid.UUID | None = None) -> dict[uuid.UUID, int]:
        """The acks not yet stored (all, or one token's), handed over to be written."""
        if token_id is None:
            taken, self._acks = self._acks, {}
            return taken
        seq = self._acks.pop(token_id, None)
        return {} if seq is None else {token_id: seq}

    def consoles(self) -> list[Console]:
        return [c for consoles in self._consoles.values() for c in consoles]

    @contextlib.contextmanager
    def attached(self, console: Console) -> Any:
        """Receive live events for as long as the block runs."""
        consoles = self._consoles[console.principal.agency_id]
        consoles.add(console)
        self._metrics.consoles.set(self.console_count)
        try:
            yield console
        finally:
            consoles.discard(console)
            self._metrics.consoles.set(self.console_count)
