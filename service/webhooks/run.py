"""One claim of one endpoint: its events sent in order, one POST each, until one fails,
the endpoint is taken away (deleted, or claimed by another replica after this one's
lease lapsed), or it has had nothing to send for `IDLE_HOLD_S`.

What it sent is written (its cursor, its log entries, its lease) in one short
transaction at a time, never while a POST is in flight: when a burst of events ends,
when one fails, when the run is stopped, and under a stream of events at most every
`WRITE_GAP_S`, so a busy agency costs an endpoint a write a second however many events
it takes. The
serving process makes them (`outbox.record_round`, asked through `child.ParentStore`).
Should the replica stop between a delivery and its write, the next claim sends it
again: receivers take each seq once.
"""

import asyncio
import contextlib
import time
from datetime import timedelta

import structlog

from models.webhook import ALL_EVENTS
from service.webhooks import outbox
from service.webhooks.courier import Courier
from service.webhooks.feed import Entry
from service.webhooks.tail import AgencyTail, Doorbell

log = structlog.get_logger(__name__)

ROUND_EVENTS = 100  # events read at once
# Under a stream of events, one write this often at most. Each is one of the serving
# process's writes, in the batches that make offers: at 0.25 s, three endpoints of a
# busy agency (25 calls/s) added 12 writes a second to them (bench/HISTORY.md,
# 2026-12-08). Delivered and not yet written is sent again after a crash (receivers
# take each seq once); a run that is stopped writes it first.
WRITE_GAP_S = 1.0
IDLE_HOLD_S = 2.0  # an idle run waits this long for more events, then gives its turn back
STOP_WRITE_S = 5.0  # a run stopped writes what it delivered within this, or leaves it


async def wait_for(bell: asyncio.Event, timeout_s: float) -> None:
    """Until `bell` rings, or `timeout_s` passes."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, timeout_s)):
            await bell.wait()


class Run:
    """One endpoint's claim, from its first round to its last (`go`)."""

    def __init__(
        self,
        uow: outbox.Store,
        doorbell: Doorbell,
        claimed: outbox.Claimed,
        courier: Courier,
        tail: AgencyTail,
        *,
        give_up: timedelta,
        lease_s: float,
    ) -> None:
        self._uow, self._doorbell, self._courier, self._tail = uow, doorbell, courier, tail
        self._claimed = claimed
        self._wanted = None if claimed.events == [ALL_EVENTS] else frozenset(claimed.events)
        self._give_up, self._lease_s = give_up, lease_s
        self._written = self._cursor = claimed.cursor  # the cursor as written, as reached
        self._wrote_at = time.monotonic()
        self._pending: outbox.Round | None = None  # sent (or skipped), not yet written

    async def go(self) -> None:
        try:
            await self._go()
        except asyncio.CancelledError:
            # Stopped (the replica stops): what was delivered is written first, so that
            # the next claim does not send it again.
            if self._pending is not None and self._pending.delivered:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(STOP_WRITE_S):
                        await self._write()
            raise

    async def _go(self) -> None:
        idle_since: float | None = None
        while True:
            bell = self._doorbell.armed(self._claimed.agency_id)
            entries = await self._tail.after(self._cursor, ROUND_EVENTS)
            if entries:
                idle_since = None
                failed = await self._send(entries)
                if self._write_due(failed) and not await self._write():
                    return
                continue
            if self._pending is not None and self._pending.delivered:  # a burst ended
                due_in = WRITE_GAP_S - (time.monotonic() - self._wrote_at)
                if due_in > 0:  # written then, unless more events come first
                    await wait_for(bell, due_in)
                elif not await self._write():
                    return
                continue
            idle_since = idle_since or time.monotonic()
            left = IDLE_HOLD_S - (time.monotonic() - idle_since)
            if left <= 0:
                await self._release()
                return
            await wait_for(bell, left)

    def _write_due(self, failed: bool) -> bool:
        """A failure is written at once; deliveries under a stream every `WRITE_GAP_S`;
        events skipped alone only when the lease wants renewing."""
        since = time.monotonic() - self._wrote_at
        delivered = self._pending is not None and bool(self._pending.delivered)
        return failed or (delivered and since > WRITE_GAP_S) or since > self._lease_s / 3

    async def _send(self, entries: list[Entry]) -> bool:
        """Send the events wanted, in order, until one fails (True)."""
        done = self._pending
        if done is None:
            done = self._pending = outbox.Round(
                endpoint_id=self._claimed.id,
                claim=self._claimed.claim,
                started_at=self._written,
                through=self._cursor,
            )
        for entry in entries:
            if entry.body is not None and (self._wanted is None or entry.type in self._wanted):
                sent = await self._courier.send(entry.seq, entry.type, entry.body)
                if sent.error is not None:
                    done.failed = sent
                    log.info(
                        "webhook_delivery_failed",
                        webhook_id=str(done.endpoint_id),
                        seq=entry.seq,
                        error=sent.error,
                    )
                    return True
                done.delivered.append(sent)
            done.through = self._cursor = entry.seq
            if time.monotonic() - self._wrote_at > self._lease_s / 3:
                break  # slow deliveries: written now, before the lease lapses
        return False

    async def _write(self) -> bool:
        """Write what is pending; whether the claim holds."""
        assert self._pending is not None
        done, self._pending = self._pending, None
        # Written by the serving process, in a batch of its writer: a write of this
        # process's own would take the database's write lock between the offers', and
        # hold it while this process (at a lower priority) waits for a core. And a
        # failure may give the endpoint up, which records `webhook.disabled`, which
        # that process's bus tells the dispatchers' consoles.
        standing = await self._uow.write_in_server(
            outbox.record_round, done=done, give_up=self._give_up, lease_s=self._lease_s
        )
        self._wrote_at = time.monotonic()
        self._written = self._cursor = standing.cursor
        return standing.holding

    async def _release(self) -> None:
        """Give the turn back, with the cursor past events it did not ask for (all that
        can be pending: a burst's deliveries were written when it ended)."""
        self._pending = None
        await self._uow.write(
            outbox.release,
            endpoint_id=self._claimed.id,
            claim=self._claimed.claim,
            skipped=(self._written, self._cursor),
        )
