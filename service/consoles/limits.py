"""The console socket's caps (docs/security.md): sockets per client address, sockets
still waiting for their hello per address, consoles per token, and messages a second
per socket; and the tally that lets a burst write one audit record, not one a message.

Each replica counts its own sockets: behind a load balancer the caps hold per replica.
"""

import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from service.settings import Settings

Kind = TypeVar("Kind", bound=Hashable)

_TALLY_KEYS = 10_000  # keys a tally holds before it forgets the stale ones


@dataclass(frozen=True, slots=True)
class Refusal:
    """A cap that refuses a socket: the setting that sets it, and the close reason."""

    cap: str
    limit: float
    reason: str


class BurstTally(Generic[Kind]):
    """Refusals counted so that a burst of them writes one audit record: the first of
    each kind in a window is to be recorded, with how many like it were not since."""

    def __init__(self, window_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[Kind, tuple[float, int]] = {}  # kind -> (recorded at, repeats)

    def due(self, kind: Kind) -> int | None:
        """None when a refusal of this kind was recorded within the window (this one is
        counted instead); else the number counted since the last record: record now."""
        now = self._clock()
        seen = self._seen.get(kind)
        if seen is not None and now - seen[0] < self._window_s:
            self._seen[kind] = (seen[0], seen[1] + 1)
            return None
        if len(self._seen) >= _TALLY_KEYS:
            self._forget_before(now - self._window_s)
        self._seen[kind] = (now, 0)
        return 0 if seen is None else seen[1]

    def take_repeats(self) -> dict[Kind, int]:
        """The refusals counted and not yet recorded, by kind (the tally is left empty)."""
        taken = {kind: repeats for kind, (_, repeats) in self._seen.items() if repeats}
        self._seen.clear()
        return taken

    def _forget_before(self, cutoff: float) -> None:
        # An address flood from many addresses must not grow this without end; what
        # was counted for a forgotten kind is lost, and its next refusal is recorded.
        self._seen = {k: v for k, v in self._seen.items() if v[0] >= cutoff}
        if len(self._seen) >= _TALLY_KEYS:
            self._seen.clear()


class MessageBudget:
    """A socket's messages: `rate` a second, and as many at once (a token bucket; at
    least one at once, whatever the rate)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._most = max(rate, 1.0)
        self._clock = clock
        self._left = self._most
        self._at = clock()

    def spend(self) -> bool:
        """Count one message; False when the socket has sent more than its budget."""
        now = self._clock()
        self._left = min(self._most, self._left + (now - self._at) * self.rate)
        self._at = now
        if self._left < 1:
            return False
        self._left -= 1
        return True


class Visit:
    """One admitted socket's place in the counts, given back when it leaves."""

    def __init__(self, door: "SocketDoor", address: str) -> None:
        self._door = door
        self.address = address
        self._waiting = True
        self._left = False

    def greeted(self) -> None:
        """The hello arrived (or the socket gave up waiting): no longer waiting."""
        if self._waiting:
            self._waiting = False
            self._door.stop_waiting(self.address)

    def leave(self) -> None:
        if not self._left:
            self._left = True
            self.greeted()
            self._door.close(self.address)


class SocketDoor:
    """The counts of one app's sockets, and the refusals recorded at its door."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: Counter[str] = Counter()  # address -> sockets open
        self._waiting: Counter[str] = Counter()  # address -> sockets with no hello yet
        self._consoles: Counter[uuid.UUID] = Counter()  # token -> consoles signed in
        self.refusals: BurstTally[tuple[str, object]] = BurstTally()

    def arrive(self, address: str) -> Visit | Refusal:
        """Admit a new socket from `address`, or say which cap refuses it."""
        s = self.settings
        if self._open[address] >= s.ws_max_per_address:
            return Refusal(
                "CORESPOND_WS_MAX_PER_ADDRESS",
                s.ws_max_per_address,
                f"too many sockets from this address (at most {s.ws_max_per_address})",
            )
        if self._waiting[address] >= s.ws_max_waiting_per_address:
            return Refusal(
                "CORESPOND_WS_MAX_WAITING_PER_ADDRESS",
                s.ws_max_waiting_per_address,
                "too many sockets from this address waiting to say hello "
                f"(at most {s.ws_max_waiting_per_address})",
            )
        self._open[address] += 1
        self._waiting[address] += 1
        return Visit(self, address)

    def stop_waiting(self, address: str) -> None:
        _drop(self._waiting, address)

    def close(self, address: str) -> None:
        _drop(self._open, address)

    def sign_in(self, token_id: uuid.UUID) -> Refusal | None:
        """Count a console on `token_id`, or refuse it when the token has its fill;
        `sign_out` gives the place back."""
        most = self.settings.ws_max_per_token
        if self._consoles[token_id] >= most:
            return Refusal(
                "CORESPOND_WS_MAX_PER_TOKEN",
                most,
                f"too many consoles open on this token (at most {most})",
            )
        self._consoles[token_id] += 1
        return None

    def sign_out(self, token_id: uuid.UUID) -> None:
        _drop(self._consoles, token_id)

    def flooded(self) -> Refusal:
        rate = self.settings.ws_messages_per_s
        return Refusal(
            "CORESPOND_WS_MESSAGES_PER_S",
            rate,
            f"too many messages (at most {rate:g} a second; acks are not counted)",
        )


def _drop(counts: Counter[Any], key: Any) -> None:
    """One fewer; a key at zero is removed, so the counts hold only what is open."""
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


_DOOR = "corespond_socket_door"


def door_of(app_state: Any, settings: Settings) -> SocketDoor:
    """The door of the app whose Starlette `app.state` this is, made on first use for
    the settings its lifespan built (a new lifespan, new counts)."""
    door = getattr(app_state, _DOOR, None)
    if not isinstance(door, SocketDoor) or door.settings is not settings:
        door = SocketDoor(settings)
        setattr(app_state, _DOOR, door)
    return door
