"""`memory://`: one process, no network; the embedded default."""

import asyncio
from collections.abc import AsyncIterator, Sequence

from models.event import EventMessage


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[EventMessage]] = set()

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        self._subscribers.clear()

    async def publish(self, events: Sequence[EventMessage]) -> None:
        for queue in self._subscribers:
            for event in events:
                queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[EventMessage]:
        queue: asyncio.Queue[EventMessage] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)
