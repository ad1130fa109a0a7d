"""One CAD's STA-024 socket, signed in: its subscriptions kept, and its frames sent in
order from a bounded queue; to the hub, a console (docs/sta-024.md)."""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import WebSocket

from models.agency import Principal
from service.live.hub import CLOSE_TOO_SLOW, Console
from service.sta024.subscription import Subscription

log = structlog.get_logger(__name__)

CLOSE_DONE = 1000  # the last subscription expired
CLOSE_NO_ANSWER = 4408  # no subscription in time, or no eventResponse after every try
EXPIRED = "the last subscription expired"


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


class Subscriber(Console):
    """One STA-024 socket, as the hub sees it: a console told only that the log grew
    (which wakes its subscriptions' feed, which reads what changed)."""

    def __init__(
        self,
        websocket: WebSocket,
        principal: Principal,
        *,
        address: str,
        queue_size: int,
        answer_s: float,
    ) -> None:
        super().__init__(websocket, principal, queue_size=1)  # its own queue is below
        self.address = address
        self.answer_s = answer_s  # how long the CAD has to answer
        self.subscriptions: dict[str, Subscription] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._out: asyncio.Queue[dict[str, Any] | str | _Close] = asyncio.Queue(queue_size)
        self._last_ended: str | None = None  # the last subscription, terminated on expiry
        self._closing: asyncio.TimerHandle | None = None

    def push(self, seq: int, text: str) -> bool:
        for subscription in self.subscriptions.values():
            subscription.feed.wake(seq)
        return True

    def send(self, frame: dict[str, Any] | str) -> None:
        """Queue a frame (a message, or one encoded already); a CAD that lets the queue
        fill is closed (1013) to resume."""
        if self.overflowed:
            return
        try:
            self._out.put_nowait(frame)
        except asyncio.QueueFull:
            self.too_slow()

    def too_slow(self) -> None:
        """Close the socket (1013): the CAD reconnects and resumes from the log."""
        if not self.overflowed:
            self.overflowed = True
            reason = "subscriber too slow; reconnect and resume"
            asyncio.get_running_loop().create_task(self.close(CLOSE_TOO_SLOW, reason))

    reply = send

    def close_after_sending(self, code: int, reason: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._out.put_nowait(_Close(code, reason))

    def start(self) -> asyncio.Task[None]:
        self._sender = asyncio.create_task(self._send_frames(), name="sta024-sender")
        return self._sender

    async def _send_frames(self) -> None:
        while True:
            item = await self._out.get()
            if isinstance(item, _Close):
                self.overflowed = True
                with contextlib.suppress(Exception):
                    await self.websocket.close(item.code, item.reason)
                return
            if isinstance(item, str):
                await self.websocket.send_text(item)
            else:
                await self.websocket.send_json(item)

    def keep(self, subscription: Subscription) -> None:
        if self._closing is not None:  # a new subscription before the close: stay open
            self._closing.cancel()
            self._closing = None
        self.subscriptions[subscription.id] = subscription
        self._tasks[subscription.id] = asyncio.create_task(
            subscription.run(), name="sta024-subscription"
        )

    def drop(self, subscription_id: str) -> bool:
        """End a subscription without a word to the CAD; False if there is none."""
        task = self._tasks.pop(subscription_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is None:
            return False
        subscription.feed.leave(subscription)
        return True

    def ended(self, subscription: Subscription, why: str) -> None:
        """A subscription ended by itself. STA-024 closes the socket with the last: once
        the CAD answered its terminate (or had its time to), or at once if it answers
        nothing."""
        self.drop(subscription.id)
        log.info("sta024_subscription_ended", subscription=subscription.id, why=why)
        if self.subscriptions:
            return
        if why == "unacknowledged":
            self.close_after_sending(CLOSE_NO_ANSWER, "no eventResponse: subscription ended")
        elif why == "expired":
            self._last_ended = subscription.id
            self._closing = asyncio.get_running_loop().call_later(
                self.answer_s, self.close_after_sending, CLOSE_DONE, EXPIRED
            )

    def terminate_answered(self, subscription_id: str) -> None:
        """The CAD answered the terminate of the last subscription: close now."""
        if self._closing is not None and subscription_id == self._last_ended:
            self._closing.cancel()
            self._closing = None
            self.close_after_sending(CLOSE_DONE, EXPIRED)

    def drop_all(self) -> None:
        if self._closing is not None:
            self._closing.cancel()
        for subscription_id in list(self._tasks):
            self.drop(subscription_id)
