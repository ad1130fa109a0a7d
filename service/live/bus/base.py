"""The interface every bus backend keeps, and what travels on it."""

import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from models.event import EventMessage


@dataclass(frozen=True, slots=True)
class Wake:
    """What a subscriber receives: the events one transaction committed, in seq order.

    `through` is the last seq they end with; `events` may be empty when the transport
    could not carry them (a NOTIFY payload is capped at 8,000 bytes), and then the
    hub reads them from the log. `through=None` says "messages may have been lost"
    (the bus reconnected): the hub compares the log's head with what it delivered.
    """

    events: tuple[EventMessage, ...]
    through: int | None
    sent_at: float = field(default_factory=time.time)  # epoch seconds, for the bus lag
    local: bool = True  # published by this process

    @classmethod
    def of(cls, events: Sequence[EventMessage]) -> "Wake":
        """A batch this process committed."""
        return cls(events=tuple(events), through=events[-1].seq)


class Bus(Protocol):
    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    def publish(self, events: Sequence[EventMessage]) -> None:
        """Hand over committed events, in seq order, on the event loop's thread. Never
        waits for the network and never fails the request that committed them: the
        log already has them."""
        ...

    def subscribe(self) -> AsyncIterator[Wake]:
        """Every batch published from now on, by this process or (for a shared bus)
        any other, in the order each process published."""
        ...

    async def check(self) -> None:
        """Raise, saying why, if the bus cannot reach other replicas (for /readyz)."""
        ...


def encode(origin: str, events: Sequence[EventMessage], *, limit: int | None = None) -> str:
    """One message for a shared bus: `<origin> <json>`. Without room for the events
    (`limit` characters), only the seq they end with is sent."""
    body = {"sent_at": time.time(), "through": events[-1].seq}
    text = f"{origin} " + json.dumps(
        {**body, "events": [e.model_dump(mode="json") for e in events]}
    )
    if limit is not None and len(text.encode()) > limit:
        text = f"{origin} " + json.dumps({**body, "events": []})
    return text


def decode(message: str) -> tuple[str, Wake]:
    """The origin and the batch of a message made by `encode`."""
    origin, _, payload = message.partition(" ")
    body = json.loads(payload)
    events = tuple(EventMessage.model_validate(e) for e in body["events"])
    return origin, Wake(
        events=events, through=body["through"], sent_at=body["sent_at"], local=False
    )
