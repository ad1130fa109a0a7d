"""The delivery loop: each endpoint gets the events it asked for, one signed POST each,
in seq order, from the event log.

A replica claims a due endpoint (a lease in the database: one replica at a time sends
to it) and runs it in a task of its own (`run.Run`), so a slow receiver delays only
itself; the runs of an agency share one read of its events (`tail`). A failure gives
the turn back until its retry time, which is in the database with the endpoint's
cursor, so a restart, or another replica, carries on from there. The loop and the runs
wake on the serving process's feed (its hub's events: any replica's commits) and
otherwise look every `POLL_S`.

It knows which endpoints exist (read every `POLL_S`, and at once when this replica
changes one), so a commit of an agency that has none, or whose endpoints all have a
run here already, does not make it look. All of it runs in a process of its own
(`child`), off the one that serves.
"""

import asyncio
import contextlib
import ssl
import time
import uuid
from datetime import datetime, timedelta

import structlog

from models.columns import utcnow
from service.settings import Settings
from service.webhooks import outbox
from service.webhooks.courier import Courier
from service.webhooks.feed import Feed
from service.webhooks.run import Run, wait_for
from service.webhooks.tail import AgencyTail, Doorbell

log = structlog.get_logger(__name__)

POLL_S = 1.0  # look for due endpoints at least this often (a lapsed lease, a lost wake)
LOOK_GAP_S = 0.05  # and at most this often, however many wakes come
LEASE_MARGIN_S = 30.0  # a claim's lease: this and twice the delivery timeout


class Deliverer:
    """One replica's part: claims due endpoints and runs each in a task."""

    def __init__(
        self, uow: outbox.Store, doorbell: Doorbell, feed: Feed, settings: Settings
    ) -> None:
        self._uow = uow
        self._feed = feed  # the serving process's (`child`)
        self._settings = settings
        self._give_up = timedelta(hours=settings.webhook_give_up_h)
        # A run writes at least every third of it, plus one delivery's time.
        self._lease_s = LEASE_MARGIN_S + 2 * settings.webhook_timeout_s
        self._doorbell = doorbell  # rung with the serving process's wakes (`child`)
        self._runs: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._tails: dict[uuid.UUID, AgencyTail] = {}
        self._claims: dict[uuid.UUID, uuid.UUID] = {}
        self._endpoints: dict[uuid.UUID, uuid.UUID] = {}  # enabled ones, and their agencies
        self._known_at = -POLL_S  # when `_endpoints` was read
        self._tls = ssl.create_default_context()  # the system's CAs, names checked

    def endpoints_changed(self) -> None:
        """An endpoint was registered, removed or redelivered: read them and look now."""
        self._known_at = -POLL_S
        self._doorbell.ring_watcher()

    async def run(self) -> None:
        """Claim and deliver until cancelled, then give the claims back."""
        try:
            while True:
                bell = self._doorbell.armed()
                looked_at = time.monotonic()
                if looked_at - self._known_at >= POLL_S:
                    await self._know()
                next_at = await self._claim_due() if self._idle() else None
                wait_s = POLL_S
                if next_at is not None:
                    wait_s = min(POLL_S, (next_at - utcnow()).total_seconds())
                await wait_for(bell, wait_s)
                await asyncio.sleep(LOOK_GAP_S - (time.monotonic() - looked_at))
        finally:
            await self._stop_runs()

    async def _know(self) -> None:
        try:
            self._endpoints = await self._uow.read(outbox.enabled_endpoints)
        except Exception:
            log.exception("webhook_endpoints_unread")  # the last known stand, till the next
        self._known_at = time.monotonic()
        self._watch()

    def _idle(self) -> bool:
        """Whether an enabled endpoint has no run here (one that may be due)."""
        return any(endpoint not in self._runs for endpoint in self._endpoints)

    def _watch(self) -> None:
        """Only commits of agencies with an endpoint that has no run here ring the loop."""
        self._doorbell.watched = frozenset(
            agency for endpoint, agency in self._endpoints.items() if endpoint not in self._runs
        )

    async def _claim_due(self) -> datetime | None:
        """Claim and start what is due; when the next retry falls due."""
        try:
            due = await self._uow.read(outbox.due_endpoints, skip=frozenset(self._runs))
            claimed = []
            if due.ids:  # most looks find nothing: no write for them
                claimed = await self._uow.write(outbox.claim, ids=due.ids, lease_s=self._lease_s)
        except Exception:
            log.exception("webhook_claim_failed")
            return None
        for endpoint in claimed:
            self._endpoints.setdefault(endpoint.id, endpoint.agency_id)
            self._claims[endpoint.id] = endpoint.claim
            self._runs[endpoint.id] = asyncio.create_task(
                self._deliver(endpoint), name=f"webhook-{endpoint.id}"
            )
        if claimed:
            self._watch()
        return due.next_at

    async def _stop_runs(self) -> None:
        """Stop every run and give their turns back, so another replica need not wait
        for the leases to lapse."""
        runs, claims = list(self._runs.values()), dict(self._claims)  # runs forget theirs
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        for endpoint_id, claim in claims.items():
            with contextlib.suppress(Exception):
                await self._uow.write(outbox.release, endpoint_id=endpoint_id, claim=claim)

    async def _deliver(self, claimed: outbox.Claimed) -> None:
        courier = Courier(claimed, self._settings, self._tls)
        tail = self._tails.get(claimed.agency_id)
        if tail is None:
            tail = AgencyTail(
                self._uow, self._doorbell, claimed.agency_id, claimed.cursor, feed=self._feed
            )
            self._tails[claimed.agency_id] = tail
        tail.readers += 1
        try:
            run = Run(
                self._uow,
                self._doorbell,
                claimed,
                courier,
                tail,
                give_up=self._give_up,
                lease_s=self._lease_s,
            )
            await run.go()
        except Exception:
            log.exception("webhook_run_failed", webhook_id=str(claimed.id))
            with contextlib.suppress(Exception):
                await self._uow.write(outbox.release, endpoint_id=claimed.id, claim=claimed.claim)
        finally:
            courier.close()
            tail.readers -= 1
            if not tail.readers:
                self._tails.pop(claimed.agency_id, None)
            self._runs.pop(claimed.id, None)
            self._claims.pop(claimed.id, None)
            self._watch()
            self._doorbell.ring_watcher()  # its retry, or what came meanwhile, is looked for
