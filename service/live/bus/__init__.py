"""The event bus: wakes the WebSocket hubs of every replica after a commit.

One small interface (`base.Bus`), one module per backend, chosen by URL scheme.
The bus only wakes consoles; the event log in the database is the truth, and a
hub or console that missed a message recovers it from the log.

Part of `live`: it imports `models` and the shared modules (settings, errors) only.
"""

from service.live.bus.base import Bus, Wake
from service.live.bus.memory import MemoryBus
from service.settings import check_bus_url


def make_bus(url: str) -> Bus:
    """The bus for `url`: `memory://` (one process), `redis://…` (Redis pub/sub) or
    `postgres://…` (PostgreSQL LISTEN/NOTIFY); `?channel=` names the channel."""
    scheme = check_bus_url(url).partition("://")[0]
    if scheme == "memory":
        return MemoryBus()
    if scheme in ("redis", "rediss"):
        from service.live.bus.redis_bus import RedisBus

        return RedisBus(url)
    from service.live.bus.postgres_bus import PostgresBus

    return PostgresBus(url)


__all__ = ["Bus", "Wake", "make_bus"]
