"""The hub's promise to fast consoles: a console that stops reading is closed when
its bounded queue fills, and nobody else waits for it.

In-process, because a socket that stops reading takes megabytes of kernel
buffers to show it; the stand-in sockets below only record what is sent.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from models.agency import Principal
from models.event import EventMessage
from models.vocabulary import Role
from service.bus.memory import MemoryBus
from service.hub import CLOSE_TOO_SLOW, Console, Hub
from service.metrics import Metrics

AGENCY = uuid.uuid4()


class RecordingSocket:
    def __init__(self, *, stuck: bool = False) -> None:
        self.stuck = stuck
        self.sent: list[dict[str, Any]] = []
        self.closed_with: int | None = None

    async def send_json(self, frame: dict[str, Any]) -> None:
        if self.stuck:
            await asyncio.Event().wait()  # a peer that never reads
        self.sent.append(frame)

    async def close(self, code: int, reason: str = "") -> None:
        self.closed_with = code


def _principal() -> Principal:
    return Principal(token_id=uuid.uuid4(), agency_id=AGENCY, agency_slug="a", role=Role.dispatcher)


def _event(seq: int) -> EventMessage:
    return EventMessage(
        seq=seq, agency_id=AGENCY, at=datetime.now(UTC), type="call.updated", data={"n": seq}
    )


def test_a_console_that_stops_reading_is_closed_and_the_others_get_everything() -> None:
    async def shift() -> tuple[RecordingSocket, RecordingSocket, Metrics]:
        metrics = Metrics()
        hub = Hub(MemoryBus(), metrics)
        stuck, fast = RecordingSocket(stuck=True), RecordingSocket()
        slow_console = Console(stuck, _principal(), queue_size=5)  # type: ignore[arg-type]
        fast_console = Console(fast, _principal(), queue_size=5)  # type: ignore[arg-type]
        with hub.attached(slow_console), hub.attached(fast_console):
            senders = [slow_console.start(), fast_console.start()]
            for seq in range(1, 21):
                hub.deliver(_event(seq))
                await asyncio.sleep(0)  # the fast sender keeps up
            for _ in range(100):
                if stuck.closed_with is not None:
                    break
                await asyncio.sleep(0.01)
            for sender in senders:
                sender.cancel()
        return stuck, fast, metrics

    stuck, fast, metrics = asyncio.run(shift())

    assert stuck.closed_with == CLOSE_TOO_SLOW
    assert [f["seq"] for f in fast.sent] == list(range(1, 21))
    assert fast.closed_with is None
    assert metrics.consoles_dropped._value.get() == 1
