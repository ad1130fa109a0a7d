"""The builder's worker process: what runs in it, and nothing the server needs.

It lowers its own priority before its own heavy imports: the import of the models, the
EIDO code and the database layer is its largest burst of CPU (some seconds on a busy
machine), and it comes when the first CAD subscribes, while the server makes offers.
So this module imports only the standard library and `service.priority` (itself only
that) at its top, the process pool unpickles `open_worker` (this module) first, and
`open_worker` imports the rest after `yield_to_server`. (Spawning, `multiprocessing`
first runs the server's main script again: the `corespond` script's entry point,
`service.cli.main`, imports the commands only when it runs, so that costs nothing.)
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from service.priority import yield_to_server

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from models.agency import Principal
    from service.sta024.operations import Built, News, Scope
    from service.store.unit_of_work import UnitOfWork

# Behind the server (`priority`: the idle class, and this niceness): when both want a
# core, the server's wake-ups go first, and the CADs' notifications go out later.
NICENESS = 5
PARENT_CHECK_S = 1.0  # how soon a worker whose server is gone ends

# The process's own unit of work, made once when it starts (`open_worker`): a process
# pool's tasks are plain functions, so it lives in the process's module.
_worker: UnitOfWork | None = None


def open_worker(database_url: str, sqlite_synchronous: Any, server_pid: int) -> None:
    """The pool's initializer: lower the priority, then open a reader on the database."""
    global _worker
    yield_to_server(NICENESS)
    from service.settings import Settings
    from service.store.engine import make_engine
    from service.store.unit_of_work import UnitOfWork

    settings = Settings(database_url=database_url, sqlite_synchronous=sqlite_synchronous)
    _worker = UnitOfWork(make_engine(settings), bus=None, serialize_writes=False)
    threading.Thread(target=_end_with, args=(server_pid,), daemon=True).start()


def _end_with(server_pid: int) -> None:
    """End the worker when its server is gone, however it went (a server that is
    killed cannot stop its pool)."""
    while os.getppid() == server_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def news(principal: Principal, after: int, scopes: Sequence[Scope]) -> News:
    """`operations.read_news`, in this process."""
    from service.sta024.operations import read_news

    assert _worker is not None
    return _worker.read_sync(read_news, principal=principal, after=after, scopes=scopes)


def built(principal: Principal, call_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Built]:
    """`operations.built_eidos`, in this process."""
    from service.sta024.operations import built_eidos

    assert _worker is not None
    return _worker.read_sync(built_eidos, principal=principal, call_ids=call_ids)
