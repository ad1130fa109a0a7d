"""What the endpoints of an agency read: the agency's newest events, each with its body
as a dispatcher's console is sent it, taken once for all of them (three endpoints
taking every event read and encoded each event three times: 63 µs an endpoint,
measured), and the doorbell that says when to look again.

They come from the serving process's feed (`feed`), encoded by its hub already; from the
log only where the feed does not reach back far enough (a new claim behind it, a
retry, a redelivery) or the agency is not fed (yet).
"""

import asyncio
import time
import uuid
from bisect import bisect_right
from collections.abc import Iterable

from models.agency import Principal
from models.event import EventMessage
from service.live.events import events_after, head_seq
from service.live.hub import event_text
from service.store.transaction import Tx
from service.trust.access import may_see_event
from service.webhooks.feed import KEEP_EVENTS, Entry, Feed
from service.webhooks.outbox import Reader
from service.webhooks.view import dispatcher_view

READ_EVENTS = 500  # events read from the log at once
# An agency's new events are taken this often at most. Not rarer: read from the log ten
# times a second, the deliveries took a third less CPU but came in bursts, and the
# offers' p95 rose 15 % and p99 8 % (bench/HISTORY.md, 2026-12-07, "Fewer reads").
REFRESH_GAP_S = 0.02


class Doorbell:
    """Rung when events are committed (by any replica), for their agencies, or for all
    when the bus could not say which. Arm it before looking at the log and wait on
    what `armed` gave: a ring in between is not missed."""

    def __init__(self) -> None:
        self._bells: dict[uuid.UUID | None, asyncio.Event] = {}
        # The agencies whose commits ring the bell of any agency (None: every agency's):
        # the deliverer's, which need not look for due endpoints of an agency that has
        # none, or whose endpoints all have a run already.
        self.watched: frozenset[uuid.UUID] | None = None

    def armed(self, agency_id: uuid.UUID | None = None) -> asyncio.Event:
        """The bell rung at the next commit of `agency_id` (None: of a watched agency)."""
        return self._bells.setdefault(agency_id, asyncio.Event())

    def ring_watcher(self) -> None:
        """Ring the bell of any agency alone (the deliverer should look again now)."""
        bell = self._bells.pop(None, None)
        if bell is not None:
            bell.set()

    def ring(self, agencies: Iterable[uuid.UUID] | None) -> None:
        if agencies is None:
            keys: list[uuid.UUID | None] = list(self._bells)
        else:
            keys = list(set(agencies))
            if self.watched is None or not self.watched.isdisjoint(keys):
                keys.append(None)
        for key in keys:
            bell = self._bells.pop(key, None)
            if bell is not None:
                bell.set()


class AgencyTail:
    """Every event of one agency after `start` through `_through`, in seq order.

    Complete because seqs commit in order: a read of the log's head and then of the
    events after the last one held finds every event up to that head, and the feed
    has every event of a fed agency from where it began; the doorbell, armed before
    either, says when more may have been committed."""

    def __init__(
        self,
        uow: Reader,
        doorbell: Doorbell,
        agency_id: uuid.UUID,
        start: int,
        *,
        feed: Feed | None = None,
        keep: int = KEEP_EVENTS,
        read: int = READ_EVENTS,
    ) -> None:
        self._uow = uow
        self._doorbell = doorbell
        self._feed = feed if feed is not None else Feed()
        self.agency_id = agency_id
        self.view = dispatcher_view(agency_id)
        self._start = self._through = start
        self._seqs: list[int] = []
        self._held: list[Entry] = []
        self._bell: asyncio.Event | None = None  # set: more may have been committed
        self._reading = asyncio.Lock()
        self.readers = 0  # the runs using it (the deliverer drops it at none)
        self._keep, self._read_at_once = keep, read
        self._refreshed_at = 0.0

    async def after(self, cursor: int, limit: int) -> list[Entry]:
        """Up to `limit` of the agency's events after seq `cursor`, oldest first."""
        async with self._reading:
            if self._bell is None or self._bell.is_set():
                await self._refresh()
            if cursor < self._start:  # behind what is held (a replay, a slow one): the log
                return self._entries(await self._read(cursor, limit))
        first = bisect_right(self._seqs, cursor)
        return self._held[first : first + limit]

    async def _refresh(self) -> None:
        # Under a stream of commits, once a REFRESH_GAP_S: each gathers more.
        await asyncio.sleep(self._refreshed_at + REFRESH_GAP_S - time.monotonic())
        self._refreshed_at = time.monotonic()
        bell = self._doorbell.armed(self.agency_id)
        if self._feed.covers(self.agency_id, self._through):
            found = self._feed.after(self.agency_id, self._through)
            self._bell = bell
            self._through = max(self._through, self._feed.through)
        else:
            head, events = await self._uow.read(
                _head_and_after, principal=self.view, after=self._through, limit=self._read_at_once
            )
            found = self._entries(events)
            more = len(events) == self._read_at_once
            self._bell = None if more else bell  # more at once
            if more:
                self._through = events[-1].seq
            else:  # every event up to the head was committed when it was read
                self._through = max(self._through, head, events[-1].seq if events else 0)
        if not found:
            return
        self._held.extend(found)
        self._seqs.extend(e.seq for e in found)
        if len(self._held) > self._keep:
            dropped = len(self._held) - self._keep
            self._start = self._seqs[dropped - 1]
            del self._held[:dropped], self._seqs[:dropped]

    async def _read(self, after: int, limit: int) -> list[EventMessage]:
        return await self._uow.read(events_after, principal=self.view, after=after, limit=limit)

    def _entries(self, events: list[EventMessage]) -> list[Entry]:
        return [
            Entry(
                e.seq,
                e.type,
                event_text(e, self.view).encode() if may_see_event(self.view, e) else None,
            )
            for e in events
        ]


def _head_and_after(
    tx: Tx, *, principal: Principal, after: int, limit: int
) -> tuple[int, list[EventMessage]]:
    """The log's head, then the events after `after` (so every event up to that head,
    when fewer than `limit` come)."""
    head = head_seq(tx)
    return head, events_after(tx, principal=principal, after=after, limit=limit)
