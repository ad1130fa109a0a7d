"""The feed: the events of agencies with an endpoint, handed from the serving process's
hub to the delivery process, each encoded as a dispatcher's console is sent it.

In the serving process, `Feeder` taps the hub: it is handed every event in seq order,
with the hub's encoding (made once for the consoles and it), and writes those of the
agencies fed down the pipe (`channel.Fed`) at most every `WAKE_GAP_S`. In the delivery
process, `Feed` holds each agency's newest for its endpoints' runs, so that an agency's
tail takes them from there instead of reading the log and encoding them again
(`tail.AgencyTail`): that was a fifth of the delivery process's CPU, taken from the
cores the offers run on.

An agency is fed from a seq: every event of it after that seq, through the feed's
`through`, is handed down. A tail that has everything up to a seq the feed covers goes
on from the feed; one further behind (a new claim, a retry, a redelivery) reads the log
until it is not. Where the hub went on without delivering (before its first read of the
log's head; events gone from the log), or the delivery process fell `MAX_EVENTS`
behind, the feed begins again from there, and the tails read the difference.
"""

import asyncio
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from models.agency import Principal
from models.event import EventMessage
from service.trust.access import may_see_event
from service.webhooks import channel
from service.webhooks.channel import Fed
from service.webhooks.view import dispatcher_view

log = structlog.get_logger(__name__)

# The events of this long go down the pipe as one: as often as an agency's tail takes
# them (`tail.REFRESH_GAP_S`). Every 5 ms, the frames woke the delivery process four
# times as often for the same deliveries.
WAKE_GAP_S = 0.02
MAX_EVENTS = 10_000  # held while the delivery process is behind; more: fed afresh
KEEP_EVENTS = 2000  # held an agency (by the feed, and by a tail); one further behind: the log


class Feeder:
    """The serving process's side: what goes down one delivery process's pipe."""

    def __init__(
        self, pipe: asyncio.WriteTransport, taken: int, *, max_events: int = MAX_EVENTS
    ) -> None:
        self._pipe = pipe
        self._max_events = max_events
        self._taken = taken  # the seq the hub had delivered last (the feed begins after)
        # The agencies fed (with an endpoint), each from the seq taken last when it was
        # first fed, and their events since the last frame.
        self._fed: dict[uuid.UUID, int] = {}
        self._fed_changed = False
        self._events: list[channel.FedEvent] = []
        self._agencies: set[uuid.UUID] = set()  # whose events came since the last frame
        self._every_agency = False
        self._views: dict[uuid.UUID, Principal] = {}
        self._flush: asyncio.TimerHandle | None = None

    def take(self, event: EventMessage, text_for: Callable[[Principal], str]) -> None:
        """The hub delivered `event` (its tap)."""
        if event.seq != self._taken + 1:
            # The hub went on past events it did not deliver: before its first read of
            # the log's head, or events gone from the log. The feed begins again here.
            self._afresh(event.seq - 1)
        self._taken = event.seq
        agency = event.agency_id
        if agency in self._fed:
            view = self._views.get(agency)
            if view is None:
                view = self._views[agency] = dispatcher_view(agency)
            body = text_for(view).encode() if may_see_event(view, event) else None
            self._events.append((event.seq, agency.bytes, event.type, body))
        if not self._every_agency:
            self._agencies.add(agency)
            self._every_agency = len(self._agencies) > channel.MAX_WAKE_AGENCIES
        self._flush_soon()

    def feed(self, agencies: Iterable[uuid.UUID]) -> None:
        """Feed the events of `agencies` (those with an endpoint), each one not fed yet
        from the hub's place now."""
        fed = {agency: self._fed.get(agency, self._taken) for agency in agencies}
        if fed != self._fed:
            self._fed = fed
            self._fed_changed = True
            self._flush_soon()

    def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def _afresh(self, seq: int) -> None:
        """Feed every agency from `seq` on, and nothing before it (the delivery process
        reads what it has not had from the log)."""
        self._fed = dict.fromkeys(self._fed, seq)
        self._fed_changed = True
        self._events = []

    def _flush_soon(self) -> None:
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(WAKE_GAP_S, self._send)

    def _send(self) -> None:
        self._flush = None
        if self._pipe.is_closing():
            return
        if self._pipe.get_write_buffer_size():  # the process is behind: one frame, later
            if len(self._events) > self._max_events:
                self._afresh(self._taken)
                log.warning("webhook_feed_behind", through=self._taken)
            self._flush_soon()
            return
        fed = Fed(
            through=self._taken,
            events=self._events,
            agencies=None if self._every_agency else [a.bytes for a in self._agencies],
            fed={a.bytes: seq for a, seq in self._fed.items()} if self._fed_changed else None,
        )
        self._pipe.write(channel.feed_frame(fed))
        self._events = []
        self._agencies = set()
        self._every_agency = False
        self._fed_changed = False


@dataclass(frozen=True, slots=True)
class Entry:
    """An event as a delivery needs it, and its body (None: a dispatcher is not sent it)."""

    seq: int
    type: str
    body: bytes | None


class Feed:
    """The delivery process's side: the fed agencies' newest events, from the serving
    process's frames, in order."""

    def __init__(self, *, keep: int = KEEP_EVENTS) -> None:
        self.through = 0  # the hub had delivered every event up to this
        self._from: dict[uuid.UUID, int] = {}  # covered agencies: every event after this
        self._seqs: dict[uuid.UUID, list[int]] = {}
        self._held: dict[uuid.UUID, list[Entry]] = {}
        self._keep = keep

    def take(self, fed: Fed) -> None:
        """One frame: which agencies are fed now (when it says), then their events."""
        if fed.fed is not None:
            now = {uuid.UUID(bytes=a): seq for a, seq in fed.fed.items()}
            for agency, seq in self._from.items():
                if now.get(agency) != seq:  # no longer fed, or fed afresh: begun again
                    self._seqs.pop(agency, None)
                    self._held.pop(agency, None)
            self._from = now
        grown: set[uuid.UUID] = set()
        for seq, agency_bytes, kind, body in fed.events:
            agency = uuid.UUID(bytes=agency_bytes)
            since = self._from.get(agency)
            if since is None or seq <= since:  # not fed, or from before it was fed afresh
                continue
            self._seqs.setdefault(agency, []).append(seq)
            self._held.setdefault(agency, []).append(Entry(seq, kind, body))
            grown.add(agency)
        for agency in grown:
            seqs = self._seqs[agency]
            if len(seqs) > self._keep:
                dropped = len(seqs) - self._keep
                self._from[agency] = seqs[dropped - 1]
                del seqs[:dropped], self._held[agency][:dropped]
        self.through = max(self.through, fed.through)

    def covers(self, agency_id: uuid.UUID, seq: int) -> bool:
        """Whether every event of the agency after `seq` through `through` is held."""
        since = self._from.get(agency_id)
        return since is not None and since <= seq

    def after(self, agency_id: uuid.UUID, seq: int) -> list[Entry]:
        """The agency's events held after `seq`, oldest first (all of them, when it
        `covers` that seq)."""
        seqs = self._seqs.get(agency_id)
        if not seqs:
            return []
        return self._held[agency_id][bisect_right(seqs, seq) :]
