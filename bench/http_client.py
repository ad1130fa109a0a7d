"""The load run's HTTP client: HTTP/1.1 over asyncio streams, keep-alive, JSON.

httpx's AsyncClient added ~0.9 ms of the client's own work to a `GET /healthz` on
these machines (1.13 ms against 0.26 with this client) and more to a POST with its
answer; the client shares the two cores with the server, and its time was in every
latency the run reported and bounded the bare-FastAPI baseline. This one does only
what the run needs: a Content-Length body each way, a pool of connections kept
open, the status and the body back.
"""

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

StreamPair = tuple[asyncio.StreamReader, asyncio.StreamWriter]

# uvicorn closes a connection idle for 5 s (its keep-alive timeout): one idle longer
# than this is not used again, or a request could be written into a closing socket.
IDLE_S = 4.0


class LeanClient:
    """At most `connections` requests in flight, each on a kept-open connection."""

    def __init__(
        self, url: str, *, connections: int, headers: dict[str, str] | None = None
    ) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = f"Host: {self._host}\r\nContent-Type: application/json\r\n{extra}"
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[StreamPair, float]] = []  # with when each was last used

    async def post_json(self, path: str, body: Any, *, timeout: float = 30) -> tuple[int, Any]:
        """POST `body` as JSON; the status and the decoded answer (None if not JSON).
        A transport failure or a timeout raises OSError, EOFError or TimeoutError."""
        payload = json.dumps(body).encode()
        request = (
            f"POST {path} HTTP/1.1\r\n{self._head}Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        async with self._slots:
            pair = await self._connection()
            try:
                status, data, keep = await asyncio.wait_for(self._exchange(pair, request), timeout)
            except BaseException:
                pair[1].close()
                raise
            if keep:
                self._idle.append((pair, time.monotonic()))
            else:
                pair[1].close()
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    async def aclose(self) -> None:
        for (_, writer), _ in self._idle:
            writer.close()
        self._idle.clear()

    async def _connection(self) -> StreamPair:
        """The most recently used open connection, or a new one (TCP_NODELAY is set)."""
        while self._idle:
            (reader, writer), used = self._idle.pop()
            if reader.at_eof() or writer.is_closing() or time.monotonic() - used > IDLE_S:
                writer.close()
                continue
            return reader, writer
        return await asyncio.open_connection(self._host, self._port)

    @staticmethod
    async def _exchange(pair: StreamPair, request: bytes) -> tuple[int, bytes, bool]:
        reader, writer = pair
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise EOFError("the server closed the connection")
        status = int(status_line.split()[1])
        length, keep = 0, True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
            elif name == "transfer-encoding":
                raise ValueError("a chunked answer: this client reads Content-Length only")
        return status, await reader.readexactly(length), keep
