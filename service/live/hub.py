"""The WebSocket hub: fans committed events out to the consoles that may see them.

Each console has a bounded queue and its own sender task, so a slow socket never
slows the others or the request that published: when its queue is full the
console is closed, and it catches up by resuming from the event log.

The hub hands events on strictly in seq order, each once. Batches from other
replicas can arrive out of order (each replica publishes after its own commit),
late, twice, or not at all (a lost bus connection): the hub holds an event that
arrives before its predecessors, and when a gap does not close within
`gap_wait_s` (or the bus reconnected, or the log's head, checked every
`log_check_s`, is ahead) it reads the missing events from the log. Seqs are
handed out under the counter row's lock, so once seq N is committed, so is every
seq before it.

What else must follow every event in that order (the webhooks' delivery process) taps
the hub (`tap`): it is handed each event as the consoles are, with the hub's encoding
of it for a way of seeing, made once for the consoles and the taps alike.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Any

import structlog
from fastapi import WebSocket

from models.agency import Principal
from models.columns import iso_utc
from models.event import EventMessage
from models.vocabulary import Role
from service.live.bus import Bus, Wake
from service.live.events import events_between, head_seq
from service.metrics import Metrics
from service.store.unit_of_work import UnitOfWork
from service.trust.access import may_see_event
from service.trust.disclosure import redact_event_data, redaction_of

log = structlog.get_logger(__name__)

CLOSE_TOO_SLOW = 1013  # "try again later": reconnect and resume
CLOSE_BAD_TOKEN = 4401
LOG_READ_LIMIT = 5000  # events read from the log at once to fill a gap

# A tap: handed each event in seq order, and how to have it as a principal sees it
# (`event_text`, encoded once for each way of seeing, with the consoles').
Tap = Callable[[EventMessage, Callable[[Principal], str]], None]


def event_text(event: EventMessage, principal: Principal) -> str:
    """The frame as sent (Starlette's `send_json` encoding)."""
    return json.dumps(event_frame(event, principal), separators=(",", ":"), ensure_ascii=False)


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
        # (seq, encoded frame) for events, (None, frame) for replies to its messages.
        self._queue: asyncio.Queue[tuple[int | None, str | dict[str, Any]]] = asyncio.Queue(
            queue_size
        )
        self.sent_through = 0  # the highest seq already sent (replayed events count)
        self.acked = 0  # the highest seq the console said it has
        self.overflowed = False
        self._sender: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    def push(self, seq: int, text: str) -> bool:
        """Queue event `seq`, encoded as this console may see it (`event_text`); False
        when this push found the queue full."""
        return self._put(seq, text)

    def reply(self, frame: dict[str, Any]) -> None:
        """Queue an answer to the console's own message, in line with its events."""
        self._put(None, frame)

    def _put(self, seq: int | None, frame: str | dict[str, Any]) -> bool:
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
            if isinstance(frame, str):
                await self.websocket.send_text(frame)
            else:
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


def _audience_key(principal: Principal) -> Hashable:
    if principal.role == Role.responder:
        return (principal.agency_id, principal.responder_id)
    return principal.agency_id


class Hub:
    def __init__(
        self,
        bus: Bus,
        metrics: Metrics,
        uow: UnitOfWork | None = None,
        *,
        gap_wait_s: float = 0.05,
        log_check_s: float = 1.0,
    ) -> None:
        self._bus = bus
        self._metrics = metrics
        self._uow = uow  # the log, to fill gaps from (None: trust the bus)
        self._gap_wait_s = gap_wait_s
        self._log_check_s = log_check_s
        # Consoles by who may see what: staff and CAD by agency, a responder's by its
        # responder id (it sees only events that name it). An event is offered to its
        # agency's staff and its responder's consoles, not to every socket.
        self._consoles: dict[Hashable, set[Console]] = defaultdict(set)
        self._acks: dict[uuid.UUID, int] = {}  # token -> last seq acked, not yet stored
        self.delivered_through = 0  # every seq up to this one was handed to the consoles
        self._held: dict[int, EventMessage] = {}  # arrived ahead of a gap
        self._wanted = 0  # the highest seq known to be committed
        self._filler: asyncio.Task[None] | None = None
        self._taps: list[Tap] = []

    @property
    def console_count(self) -> int:
        return sum(len(c) for c in self._consoles.values())

    async def run(self) -> None:
        """Deliver every event the bus brings, in seq order, until cancelled."""
        tasks: list[asyncio.Task[None]] = []
        wakes = self._bus.subscribe()  # before reading the head: nothing falls between
        if self._uow is not None:
            self.delivered_through = self._wanted = await self._uow.read(head_seq)
            tasks.append(asyncio.create_task(self._watch_log(), name="hub-log-check"))
        try:
            async for wake in wakes:
                self.receive(wake)
        finally:
            for task in [*tasks, self._filler]:
                if task is not None:
                    task.cancel()

    def receive(self, wake: Wake) -> None:
        """Take a batch from the bus: deliver what is next in line, hold the rest."""
        if not wake.local and wake.events:
            self._metrics.bus_lag.observe(max(0.0, time.time() - wake.sent_at))
        for event in wake.events:
            if event.seq > self.delivered_through:
                self._held[event.seq] = event
        self._drain()
        if wake.through is None:  # the bus lost messages: look at the log now
            self._fill_soon(0.0)
        elif wake.through > self.delivered_through:
            self._wanted = max(self._wanted, wake.through)
            self._fill_soon(self._gap_wait_s)
        elif self._held:
            self._fill_soon(self._gap_wait_s)

    def _drain(self) -> None:
        while self.delivered_through + 1 in self._held:
            self.delivered_through += 1
            self.deliver(self._held.pop(self.delivered_through))

    def _fill_soon(self, delay: float) -> None:
        if self._uow is None or (self._filler is not None and not self._filler.done()):
            return
        self._filler = asyncio.create_task(self._fill_after(delay), name="hub-gap-fill")

    async def _fill_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self._fill()
        except Exception:
            log.exception("hub_log_read_failed", delivered_through=self.delivered_through)
            await asyncio.sleep(self._log_check_s)  # the watcher tries again

    async def _fill(self) -> None:
        """Read every committed event the consoles have not had from the log, and
        deliver it with what is held, in order."""
        assert self._uow is not None
        if self._wanted <= self.delivered_through and not self._held:
            self._wanted = max(self._wanted, await self._uow.read(head_seq))
        target = max(self._wanted, *self._held, 0)
        while target > self.delivered_through:
            after = self.delivered_through
            through = min(target, after + LOG_READ_LIMIT)
            self._metrics.hub_log_reads.inc()
            found = await self._uow.read(events_between, after=after, through=through)
            for event in found:
                if event.seq > self.delivered_through:
                    self._held.setdefault(event.seq, event)
            self._drain()
            if self.delivered_through < through:
                # Not in the log: past retention (or never committed). Go on after it.
                log.warning("hub_events_missing", after=self.delivered_through, through=through)
                for seq in sorted(s for s in self._held if s <= through):
                    self.deliver(self._held.pop(seq))
                self.delivered_through = through
                self._drain()
            target = max(self._wanted, *self._held, 0)

    async def _watch_log(self) -> None:
        """Every `log_check_s`: is the log ahead of what was delivered? (A message lost
        on the bus with nothing after it would otherwise wait for the next one.)"""
        assert self._uow is not None
        while True:
            await asyncio.sleep(self._log_check_s)
            try:
                head = await self._uow.read(head_seq)
            except Exception:
                log.exception("hub_log_check_failed")
                continue
            if head > self.delivered_through:
                self._wanted = max(self._wanted, head)
                self._fill_soon(self._gap_wait_s)

    def deliver(self, event: EventMessage) -> None:
        audience = self._consoles.get(event.agency_id, set())
        if event.responder_id is not None:
            audience = audience | self._consoles.get((event.agency_id, event.responder_id), set())
        texts: dict[Hashable, str] = {}  # encoded once for each way of seeing it

        def text_for(principal: Principal) -> str:
            view = redaction_of(principal)
            text = texts.get(view)
            if text is None:
                text = texts[view] = event_text(event, principal)
            return text

        for console in audience:
            if not may_see_event(console.principal, event):
                continue
            if not console.push(event.seq, text_for(console.principal)):
                self._metrics.consoles_dropped.inc()
                log.warning("console_too_slow", token_id=str(console.principal.token_id))
        for tap in self._taps:
            try:
                tap(event, text_for)
            except Exception:  # a tap's fault must not keep events from the consoles
                log.exception("hub_tap_failed", seq=event.seq)

    @contextlib.contextmanager
    def tap(self, tap: Tap) -> Any:
        """Hand `tap` every event delivered from now on, for as long as the block runs."""
        self._taps.append(tap)
        try:
            yield tap
        finally:
            self._taps.remove(tap)

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
        consoles = self._consoles[_audience_key(console.principal)]
        consoles.add(console)
        self._metrics.consoles.set(self.console_count)
        try:
            yield console
        finally:
            consoles.discard(console)
            self._metrics.consoles.set(self.console_count)
