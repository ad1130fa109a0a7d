"""The delivery process's entry point: what `multiprocessing` loads in it before it can
put itself behind the server, and nothing else.

Spawning, the new process unpickles its target and arguments before the target runs, at
the server's priority. So the target lives here, in a module that imports only the
standard library and `service.priority` (itself only that), and the server's `Settings`
come pickled as bytes: the delivery code, the database layer and pydantic (about a
second of CPU, taken while the server makes offers) load after `yield_to_server`, as the
EIDO builder's do (`service.sta024.worker`).
"""

import pickle
from multiprocessing.connection import Connection

from service.priority import yield_to_server

# Behind the server (`priority`): where both want a core, the offer goes first and the
# deliveries (which wait well: in order, retried) after.
NICENESS = 10


def serve(settings: bytes, wakes: Connection, asks: Connection) -> None:
    """The process's main (`multiprocessing`'s target): lower the priority, then deliver
    until told to stop (`child.serve`)."""
    yield_to_server(NICENESS)
    from service.webhooks import child

    child.serve(pickle.loads(settings), wakes, asks)  # noqa: S301 (the server's own)
