"""One STA-024 subscription: what it follows, what was agreed, and its notifier task.

It starts with its own first incidents (`Start`), then takes its agency's feed: for
each incident waiting to be sent it keeps the seq of its first unsent change and the
newest EIDO, so an incident that changes five times while the CAD has not answered
goes out once, as it is now. One notification is in flight at a time. Sent
notifications are audited like an HTTP read.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from models.agency import Principal
from models.sta024 import Event, EventResponse, Status, Terminate
from service.sta024.feed import Feed
from service.sta024.operations import Built, News, Scope, Start
from service.sta024.shelf import EidoShelf
from service.store.unit_of_work import UnitOfWork
from service.trust import audit
from service.trust.audit import Actor

log = structlog.get_logger(__name__)

ACK_RETRIES = 2  # a notification is sent three times in all before the CAD is dropped
MAX_EIDOS = 50  # EIDOs in one notification; more changed incidents go in the next
MAX_WAITING = 5000  # incidents waiting to be sent before the CAD is too slow
RETRY_S = 1.0  # after a failed read, before trying again


@dataclass(frozen=True, slots=True)
class Terms:
    """What was agreed: seconds, or None for no such rate."""

    min_rate: int | None  # a notification at least this often, changed or not
    max_rate: int | None  # notifications at least this far apart
    expires_s: int


class Link(Protocol):
    """The subscription's socket, as the subscription uses it."""

    principal: Principal
    address: str

    def send(self, frame: dict[str, Any] | str) -> None: ...

    def ended(self, subscription: "Subscription", why: str) -> None: ...

    def too_slow(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Notification:
    transaction_id: str
    frame: str
    shown: dict[str, list[str]]  # call -> sensitive details shown, for the audit


class Subscription:
    def __init__(
        self,
        *,
        scope: Scope,
        terms: Terms,
        start: Start,
        floor: int,
        link: Link,
        feed: Feed,
        uow: UnitOfWork,
        shelf: EidoShelf,
        ack_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.scope = scope
        self.terms = terms
        self.feed = feed
        self.head = start.head  # the feed's changes up to here are in `_first`
        self.resumed = start.resumed
        self._through = start.head  # the log is taken into account up to here
        self._floor = floor  # a resume point that misses nothing while `_first` remains
        self._first = deque(start.first)
        self._starting = True  # the first notification goes at once, if empty
        self._waiting: dict[uuid.UUID, tuple[int, Built]] = {}  # call -> (first seq, EIDO)
        self._link = link
        self._uow = uow
        self._shelf = shelf
        self._ack_timeout_s = ack_timeout_s
        self._clock = clock
        now = clock()
        self._expires_at = now + terms.expires_s
        self._last_sent = now
        self._woken = asyncio.Event()
        self._awaiting: str | None = None  # the transaction in flight
        self._answer: int | None = None
        self._answered = asyncio.Event()

    def catch_up(self, calls: list[tuple[uuid.UUID, int]], through: int) -> None:
        """Before joining: what changed after the start, up to where the feed was. A
        call the start has already is sent once, in its place, as it is now."""
        place = {call: i for i, (call, _) in enumerate(self._first)}
        for call, seq in calls:
            if call in place:
                self._first[place[call]] = (call, seq)
            else:
                place[call] = len(self._first)
                self._first.append((call, seq))
        self.head = self._through = through

    def take(self, news: News) -> None:
        """The feed's news: each change of this subscription's since its start waits
        to be sent, with the newest EIDO."""
        for change in news.changes:
            if change.last <= self.head or not self.scope.follows(
                change.eido.call_id, change.units
            ):
                continue
            first = max(change.first, self.head + 1)
            earlier = self._waiting.get(change.eido.call_id)
            self._waiting[change.eido.call_id] = (earlier[0] if earlier else first, change.eido)
        self._through = max(self._through, news.through)
        if len(self._waiting) > MAX_WAITING:
            self._link.too_slow()
        self._woken.set()

    def renew(self, expires_s: int) -> None:
        self.terms = Terms(self.terms.min_rate, self.terms.max_rate, expires_s)
        self._expires_at = self._clock() + expires_s
        self._woken.set()

    def answer(self, response: EventResponse) -> bool:
        """Take the CAD's eventResponse, if it answers this subscription's notification."""
        if response.transaction_id != self._awaiting:
            return False
        self._awaiting = None
        self._answer = response.status_code
        self._answered.set()
        return True

    async def run(self) -> None:
        """Notify until the subscription ends by itself (the socket cancels it otherwise)."""
        try:
            why = await self._notify_until_ended()
        except Exception:
            log.exception("sta024_subscription_failed", subscription=self.id)
            self._terminate()
            why = "failed"
        self._link.ended(self, why)

    async def _notify_until_ended(self) -> str:
        ready: Notification | None = None  # composed, not yet delivered
        audited = False
        while True:
            self._woken.clear()
            now = self._clock()
            if now >= self._expires_at:
                self._terminate()
                return "expired"
            try:
                if ready is None:
                    ready, audited = await self._compose(now), False
                if ready is not None and not audited:
                    await self._audit(ready.shown)
                    audited = True
            except Exception:
                log.exception("sta024_notification_failed", subscription=self.id)
                await asyncio.sleep(RETRY_S)
                continue
            if ready is None:
                await self._sleep(now)
                continue
            notification, ready = ready, None
            why = await self._deliver(notification)
            if why is not None:
                return why

    async def _compose(self, now: float) -> Notification | None:
        """The notification due now, if any: first what the subscription starts with
        (at once, even with nothing in it, as STA-024 starts a subscription), then what
        changed (once `max_rate` allows), else one that `min_rate` asks for (the
        incident as it is; for many incidents, none: an empty notification)."""
        if self._first or self._starting:
            chunk = [self._first[i] for i in range(min(MAX_EIDOS, len(self._first)))]
            built = await self._shelf.eidos(self._link.principal, chunk)
            self._starting = False
            for _ in chunk:
                self._first.popleft()
            return self._notification(built)
        if self._waiting and now >= self._last_sent + (self.terms.max_rate or 0):
            calls = list(self._waiting)[:MAX_EIDOS]
            return self._notification([self._waiting.pop(call)[1] for call in calls])
        if self.terms.min_rate and now >= self._last_sent + self.terms.min_rate:
            built = []
            if self.scope.call_id is not None:
                current = [(self.scope.call_id, self._through)]
                built = await self._shelf.eidos(self._link.principal, current)
            return self._notification(built)
        return None

    def _resume_point(self) -> int:
        """The seq after which a resume misses nothing this subscription has not sent."""
        if self._first:
            return self._floor
        if self._waiting:
            return min(first for first, _ in self._waiting.values()) - 1
        return self._through

    def _notification(self, built: list[Built]) -> Notification:
        """The event frame, its EIDOs spliced in as encoded once for every subscriber."""
        transaction_id = str(uuid.uuid4())
        shell = Event(
            subscription_id=self.id,
            transaction_id=transaction_id,
            notification=[],
            seq=self._resume_point(),
        ).wire("event")
        eidos = ",".join(b.text for b in built)
        frame = json.dumps(shell, separators=(",", ":")).replace(
            '"notification":[]', f'"notification":[{eidos}]', 1
        )
        shown = {str(b.call_id): list(b.sensitive) for b in built if b.sensitive}
        return Notification(transaction_id, frame, shown)

    async def _sleep(self, now: float) -> None:
        """Until news, or the next deadline: expiry, `min_rate`, or the end of
        `max_rate`'s wait with incidents waiting."""
        due = [self._expires_at]
        if self.terms.min_rate:
            due.append(self._last_sent + self.terms.min_rate)
        if self._waiting and self.terms.max_rate:
            due.append(self._last_sent + self.terms.max_rate)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), max(0.0, min(due) - now))

    async def _deliver(self, notification: Notification) -> str | None:
        """Send, and wait for the CAD's eventResponse: sent again (the same transaction)
        on no answer within the ack timeout, or on a 500 or 503; after `ACK_RETRIES` more
        tries the subscription is terminated. None when delivered (or refused for good:
        the CAD's 4xx is logged and the next change is sent); else why it ended."""
        for _ in range(1 + ACK_RETRIES):
            self._awaiting = notification.transaction_id
            self._answered.clear()
            self._link.send(notification.frame)
            self._last_sent = self._clock()
            try:
                await asyncio.wait_for(self._answered.wait(), self._ack_timeout_s)
            except TimeoutError:
                continue
            if self._answer in (Status.server_error, Status.unavailable):
                continue
            if self._answer == Status.no_such_subscription:
                return "unknown to the CAD"
            if self._answer != Status.ok:
                log.warning("sta024_notification_refused", subscription=self.id, code=self._answer)
            return None
        self._awaiting = None
        log.warning("sta024_unacknowledged", subscription=self.id, tries=1 + ACK_RETRIES)
        self._terminate()
        return "unacknowledged"

    def _terminate(self) -> None:
        self._link.send(
            Terminate(request_id=str(uuid.uuid4()), subscription_id=self.id).wire("terminate")
        )

    async def _audit(self, shown: dict[str, list[str]]) -> None:
        """Record which incidents' sensitive details this notification shows, before it
        is sent, as `GET /v1/calls` does."""
        if not shown:
            return
        actor = Actor(
            principal=self._link.principal,
            source=self._link.address,
            action="sta024 notify",
            target=f"subscription:{self.id}",
            status=200,
        )
        await self._uow.write(
            audit.record,
            actor=actor,
            outcome="success",
            detail={"read": "sensitive", "calls": shown},
        )
