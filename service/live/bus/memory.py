"""`memory://`: one process, no network; the embedded default."""

import asyncio
from collections.abc import AsyncIterator, Sequence

from models.event import EventMessage
from service.live.bus.base import Wake


class LocalFanout:
    """Hands every batch to every subscriber of this process, at once and in order."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Wake]] = set()

    def put(self, wake: Wake) -> None:
        for queue in self._subscribers:
            queue.put_nowait(wake)

    def clear(self) -> None:
        self._subscribers.clear()

    def subscribe(self) -> AsyncIterator[Wake]:
        """Subscribed from this call on (not from the first iteration), so whatever
        is published after it is received."""
        queue: asyncio.Queue[Wake] = asyncio.Queue()
        self._subscribers.add(queue)
        return self._receive(queue)

    async def _receive(self, queue: asyncio.Queue[Wake]) -> AsyncIterator[Wake]:
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)


class MemoryBus:
    def __init__(self) -> None:
        self._local = LocalFanout()

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        self._local.clear()

    def publish(self, events: Sequence[EventMessage]) -> None:
        if events:
            self._local.put(Wake.of(events))

    def subscribe(self) -> AsyncIterator[Wake]:
        return self._local.subscribe()

    async def check(self) -> None:
        return None
