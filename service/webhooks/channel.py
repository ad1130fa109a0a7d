"""What passes between the serving process and the delivery process: frames on two
one-way pipes, a 4-byte length and a kind each.

Serving → delivery (`wakes`): `FEED`, the events the hub delivered since the last one
(a `Fed`: the agencies they were of, and each event of the agencies with an endpoint,
encoded as a dispatcher's console is sent it); `ENDPOINTS` (an endpoint was
registered, removed or redelivered here: look again now); `ANSWER` (how a write the
delivery process asked for went); `STOP`.
Delivery → serving (`asks`): `ASK`, a write that records an event, made by the serving
process so that its bus publishes the event (`child.ParentStore`).

An end of the pipe that closes (its process ended, however) is the other's signal to
stop (the delivery process) or to start a new one (the serving process).
"""

import asyncio
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass

HEADER = struct.Struct("!I")
MAX_FRAME = 64 * 1024 * 1024  # a longer one says the pipe is out of step: it is closed

FEED = b"F"
ENDPOINTS = b"E"
ANSWER = b"R"
STOP = b"S"
ASK = b"Q"

MAX_WAKE_AGENCIES = 256  # a frame with events of more agencies says "of every agency"

# One event of an agency with an endpoint: its seq, its agency's id (16 bytes), its
# type, and its delivery's body (None: a dispatcher is not sent it).
FedEvent = tuple[int, bytes, str, bytes | None]


@dataclass(frozen=True, slots=True)
class Fed:
    """What one `FEED` frame hands down: every event the hub delivered up to `through`
    (in seq order) of the agencies fed, each agency from the seq it is fed from.

    `fed` is the agencies fed and their first seq (agency id bytes: every event of it
    after that seq is in the feed), sent when it changes (None: as before). `agencies`
    are those any of the events were of (None: too many to say)."""

    through: int
    events: list[FedEvent]
    agencies: list[bytes] | None
    fed: dict[bytes, int] | None = None


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(len(kind) + len(payload)) + kind + payload


def feed_frame(fed: Fed) -> bytes:
    return frame(FEED, pickle.dumps(fed, protocol=pickle.HIGHEST_PROTOCOL))


def fed_of(payload: bytes) -> Fed:
    fed = pickle.loads(payload)  # noqa: S301 (the serving process's own)
    assert isinstance(fed, Fed)
    return fed


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
