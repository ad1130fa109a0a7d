"""An agency's feed: the event log read once a tick for all of its STA-024
subscriptions that see alike, each changed incident's EIDO built and encoded once, and
handed to every subscription that follows it.

Ten CADs subscribed to an agency cost one log read and one EIDO a change, not ten:
the reads and builds run in worker threads beside the requests that make offers, and
each subscription only keeps, for each incident waiting to be sent, a reference to the
newest EIDO (`Subscription.take`).

A subscription joins at the seq its own start was read at. A feed that has read no
further hands it every change after that; one that has read further first lets it read
the difference itself, so nothing falls between (`join`).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

import structlog

from models.agency import Principal
from service.sta024.builder import Builder
from service.sta024.operations import News, Scope
from service.sta024.shelf import view_of

log = structlog.get_logger(__name__)

TICK_S = 1.0  # an agency's log is read at most once a second (the first change at once)
RETRY_S = 1.0  # after a failed read


class Member(Protocol):
    """A subscription, as its feed sees it."""

    scope: Scope

    def take(self, news: News) -> None: ...


class Feed:
    def __init__(
        self, builder: Builder, principal: Principal, on_idle: Callable[["Feed"], None]
    ) -> None:
        self._builder = builder
        self._principal = principal  # any member's: they all see alike
        self._on_idle = on_idle
        self.cursor: int | None = None  # the seq the log was read to
        self._latest = 0  # the highest seq the hub told of
        self._members: set[Member] = set()
        self._woken = asyncio.Event()
        self._idle = asyncio.Event()  # no read in flight
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._read_at = 0.0

    def wake(self, seq: int) -> None:
        """The log grew to `seq` (the hub's news, through a subscriber's socket)."""
        if seq > self._latest:
            self._latest = seq
            self._woken.set()

    async def join(
        self, member: Member, head: int, catch_up: Callable[[int, int], Awaitable[None]]
    ) -> None:
        """Take `member`, whose start was read at seq `head`: while the feed has read
        further, `catch_up(head, cursor)` reads the difference for it."""
        while True:
            await self._idle.wait()
            if self.cursor is None:
                self.cursor = head
            if head >= self.cursor:
                break
            through = self.cursor
            try:
                await catch_up(head, through)
            except BaseException:
                if not self._members:
                    self._on_idle(self)
                raise
            head = through
        self._members.add(member)  # no await since the check: no read began meanwhile
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sta024-feed")

    def leave(self, member: Member) -> None:
        self._members.discard(member)
        if not self._members and self._task is not None:
            self._task.cancel()
            self._task = None
            self._on_idle(self)

    async def _run(self) -> None:
        while True:
            await self._woken.wait()
            self._woken.clear()
            if self.cursor is None or self._latest <= self.cursor:
                continue
            if (wait := self._read_at + TICK_S - time.monotonic()) > 0:
                await asyncio.sleep(wait)  # a busy log is read in batches, not per event
            self._read_at = time.monotonic()
            self._idle.clear()
            try:
                scopes = [m.scope for m in self._members]
                news = await self._builder.news(self._principal, self.cursor, scopes)
            except Exception:
                log.exception("sta024_feed_read_failed", after=self.cursor)
                await asyncio.sleep(RETRY_S)
                self._woken.set()
                continue
            finally:
                self._idle.set()
            self.cursor = news.through
            for member in list(self._members):
                try:
                    member.take(news)
                except Exception:  # one subscription's fault must not stop the others'
                    log.exception("sta024_feed_take_failed")
            if self._latest > self.cursor:
                self._woken.set()


class Feeds:
    """One app's feeds, one for each way of seeing an agency."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self._feeds: dict[Hashable, Feed] = {}

    def of(self, principal: Principal) -> Feed:
        key = view_of(principal)
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = Feed(self.builder, principal, lambda f: self._forget(key, f))
            self.builder.hold()
        return feed

    def _forget(self, key: Hashable, feed: Feed) -> None:
        if self._feeds.get(key) is feed:
            del self._feeds[key]
            self.builder.release()


_FEEDS = "corespond_sta024_feeds"


def feeds_of(app_state: Any, builder: Builder) -> Feeds:
    """The feeds of the app whose Starlette `app.state` this is, made on first use for
    its builder (a new lifespan, new feeds)."""
    feeds = getattr(app_state, _FEEDS, None)
    if not isinstance(feeds, Feeds) or feeds.builder is not builder:
        feeds = Feeds(builder)
        setattr(app_state, _FEEDS, feeds)
    return feeds
