"""The interface every bus backend keeps."""

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from models.event import EventMessage


class Bus(Protocol):
    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def publish(self, events: Sequence[EventMessage]) -> None:
        """Send committed events, in seq order."""
        ...

    def subscribe(self) -> AsyncIterator[EventMessage]:
        """Every event published from now on, in the order published."""
        ...
