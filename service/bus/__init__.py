"""The event bus: wakes the WebSocket hubs of every replica after a commit.

One small interface (`base.Bus`), one module per backend, chosen by URL scheme.
The bus only wakes consoles; the event log in the database is the truth, and a
hub or console that missed a message recovers it from the log.
"""

from service.bus.base import Bus, Wake
from service.bus.memory import MemoryBus


def check_url(url: str) -> str:
    """`url` if some bus speaks it; ValueError saying which do."""
    if url.partition("://")[0] not in ("memory", "redis", "rediss", "postgres", "postgresql"):
        raise ValueError(f"unsupported bus URL {url!r}: use memory://, redis://… or postgres://…")
    return url


def make_bus(url: str) -> Bus:
    """The bus for `url`: `memory://` (one process), `redis://…` (Redis pub/sub) or
    `postgres://…` (PostgreSQL LISTEN/NOTIFY); `?channel=` names the channel."""
    scheme = check_url(url).partition("://")[0]
    if scheme == "memory":
        return MemoryBus()
    if scheme in ("redis", "rediss"):
        from service.bus.redis_bus import RedisBus

        return RedisBus(url)
    from service.bus.postgres_bus import PostgresBus

    return PostgresBus(url)


__all__ = ["Bus", "Wake", "check_url", "make_bus"]
