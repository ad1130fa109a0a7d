"""What passes between the serving process and the delivery process: frames on two
one-way pipes, a 4-byte length and a kind each.

Serving → delivery (`wakes`): the bus's wakes, as the agencies whose events were
committed (`WAKE`, 16 bytes an agency) or for every agency (`WAKE_ALL`); `ENDPOINTS`
(an endpoint was registered, removed or redelivered here: look again now); `ANSWER`
(how a write the delivery process asked for went); `STOP`.
Delivery → serving (`asks`): `ASK`, a write that records an event, made by the serving
process so that its bus publishes the event (`child.ParentStore`).

An end of the pipe that closes (its process ended, however) is the other's signal to
stop (the delivery process) or to start a new one (the serving process).
"""

import asyncio
import struct
import uuid
from collections.abc import Callable, Iterable

HEADER = struct.Struct("!I")
MAX_FRAME = 64 * 1024 * 1024  # a longer one says the pipe is out of step: it is closed

WAKE = b"W"
WAKE_ALL = b"A"
ENDPOINTS = b"E"
ANSWER = b"R"
STOP = b"S"
ASK = b"Q"

MAX_WAKE_AGENCIES = 256  # more in one wake are sent as a wake for every agency


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(len(kind) + len(payload)) + kind + payload


def wake_frame(agencies: Iterable[uuid.UUID] | None) -> bytes:
    """A wake for `agencies` (None: for every agency)."""
    if agencies is None:
        return frame(WAKE_ALL)
    return frame(WAKE, b"".join(a.bytes for a in agencies))


def agencies_of(payload: bytes) -> list[uuid.UUID]:
    return [uuid.UUID(bytes=payload[i : i + 16]) for i in range(0, len(payload), 16)]


class FrameReader(asyncio.Protocol):
    """Reads frames from a pipe: `on_frame(kind, payload)` for each, in order, and
    `on_end()` once, when the other end is closed (or a frame makes no sense)."""

    def __init__(
        self, on_frame: Callable[[bytes, bytes], None], on_end: Callable[[], None]
    ) -> None:
        self._on_frame = on_frame
        self._on_end = on_end
        self._buffer = bytearray()
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        at = 0
        while len(self._buffer) - at >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer, at)
            if not 0 < size <= MAX_FRAME:
                self._buffer.clear()
                if self._transport is not None:
                    self._transport.close()  # connection_lost follows: on_end
                return
            if len(self._buffer) - at - HEADER.size < size:
                break
            start = at + HEADER.size
            body = bytes(self._buffer[start : start + size])
            at = start + size
            self._on_frame(body[:1], body[1:])
        del self._buffer[:at]

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_end()
