"""The event bus: wakes the WebSocket hubs of every replica after a commit.

One small interface (`base.Bus`), one module per backend, chosen by URL scheme.
The bus only wakes consoles; the event log in the database is the truth, and a
console that missed a message recovers it by resuming from the log.
"""

from service.bus.base import Bus
from service.bus.memory import MemoryBus


def make_bus(url: str) -> Bus:
    """The bus for `url`: `memory://` (one process) for now."""
    if url.startswith("memory://"):
        return MemoryBus()
    raise ValueError(f"unsupported bus URL {url!r}: use memory://")


__all__ = ["Bus", "make_bus"]
