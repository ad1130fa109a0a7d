"""`postgres://user@host/db?channel=…`: PostgreSQL LISTEN/NOTIFY between replicas.

A notification carries at most 8,000 bytes; a bigger batch goes as its last seq
only, and the hubs read its events from the log.
"""

from collections.abc import AsyncIterator

import psycopg
from psycopg import sql

from service.live.bus.shared import SharedBus, split_channel

CONNECT_TIMEOUT_S = 2
QUIET_CHECK_S = 5.0  # with nothing heard for this long, make sure the connection lives


def conninfo(url: str) -> str:
    """A libpq URI from a bus or SQLAlchemy URL (`postgresql+psycopg://` included)."""
    scheme, _, rest = url.partition("://")
    return "postgresql://" + rest if scheme.startswith("postgres") else url


class PostgresBus(SharedBus):
    name = "postgres"
    payload_limit = 7900

    def __init__(self, url: str) -> None:
        super().__init__()
        bare, self._channel = split_channel(url)
        self._conninfo = conninfo(bare)
        self._sender: psycopg.AsyncConnection[object] | None = None

    async def _connection(self) -> psycopg.AsyncConnection[object]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )

    async def _listen(self) -> AsyncIterator[str | None]:
        connection = await self._connection()
        try:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            yield None
            while True:
                async for notify in connection.notifies(timeout=QUIET_CHECK_S):
                    yield notify.payload
                await connection.execute("SELECT 1")
        finally:
            await connection.close()

    async def _on_sender(self, query: str, params: tuple[str, ...] = ()) -> None:
        """Run `query` on the sending connection; a failure closes it for the next try."""
        if self._sender is None or self._sender.closed:
            self._sender = await self._connection()
        try:
            await self._sender.execute(query, params)
        except psycopg.Error:
            await self._sender.close()
            raise

    async def _send(self, message: str) -> None:
        await self._on_sender("SELECT pg_notify(%s, %s)", (self._channel, message))

    async def _ping(self) -> None:
        await self._on_sender("SELECT 1")

    async def _close(self) -> None:
        if self._sender is not None:
            await self._sender.close()
