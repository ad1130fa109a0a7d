"""One keep-alive HTTP/1.1 connection to a receiver's pinned address, over asyncio's
streams, with TLS from `ssl` (the certificate checked for the URL's name).

Deliveries take the process's CPU (and its GIL) from the offers, so a POST must cost
little. Measured on the 2-core machines (uvloop, a local receiver, CPU of the loop's
thread a POST): httpx 0.73-1.19 ms (httpcore alone 0.50 ms: its anyio layers), h11
over asyncio's streams 0.08 ms, the bytes written and read here 0.02 ms. At three
endpoints taking every event of a busy agency (~1,100 POSTs a second at 50 calls a
second) httpx would take most of a core. What is sent is ours (the URL was checked
when it was registered); what is read is only what deciding needs: the status, and
whether the connection can be used again (a body of known length, not too long, is
read past; any other answer closes it).
"""

import asyncio
import ssl
from dataclasses import dataclass

from service.webhooks.addresses import Destination

MAX_HEAD_BYTES = 16384  # an answer's status line and headers
MAX_BODY_BYTES = 65536  # of an answer's body, read past only to keep the connection


class BadAnswer(ValueError):
    """The receiver's answer is not HTTP/1.x as this client reads it."""


@dataclass(frozen=True, slots=True)
class Head:
    """What an answer's head says: its status, and how much body follows (None: until
    the connection closes, or chunked), and whether the connection may be kept."""

    status: int
    length: int | None
    keep: bool


def read_head(raw: bytes) -> Head:
    """Parse a status line and headers, ending with the blank line."""
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit() or len(code) != 3:
        raise BadAnswer(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadAnswer(f"not a header line: {line[:60]!r}")
        key = name.lower()
        if key in headers and key in ("content-length", "transfer-encoding"):
            raise BadAnswer(f"{name} given twice")
        headers[key] = value.strip()
    status = int(code)
    connection = headers.get("connection", "").lower()
    keep = version == "HTTP/1.1" and "close" not in connection
    if status in (204, 304) or 100 <= status < 200:
        return Head(status, 0, keep)
    if "transfer-encoding" in headers:  # chunked: not read; the connection goes
        return Head(status, None, False)
    length = headers.get("content-length")
    if length is None:
        return Head(status, None, False)
    if not length.isdigit():
        raise BadAnswer(f"Content-Length is not a number: {length[:30]!r}")
    return Head(status, int(length), keep)


class ReceiverConnection:
    """A connection to one receiver, opened when first needed and again after the
    receiver (or a failure) closed it. Callers bound each `post` with a timeout; any
    error closes the connection."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._to: Destination | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, to: Destination, headers: str, body: bytes) -> int:
        """POST `body` to `to` with `headers` (`Name: value\\r\\n` lines, ours, checked);
        the answer's status. Raises OSError (unreachable, reset), `BadAnswer`, or
        `asyncio.IncompleteReadError` (closed before it answered)."""
        reused = self._writer is not None and self._to == to
        if reused and self._reader is not None and self._reader.at_eof():
            reused = False  # closed by the receiver while idle
        if not reused:
            await self._open(to)
        try:
            return await self._exchange(to, headers, body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.close()
            unanswered = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
            if not (reused and unanswered):
                raise
        # A kept connection the receiver closed just as it was used: once more on a
        # fresh one (it saw nothing; were it otherwise, the seq is the idempotency key).
        await self._open(to)
        return await self._exchange(to, headers, body)

    def close(self) -> None:
        # Not waited for: a receiver that never answers TLS's goodbye must not hold up
        # the next delivery.
        writer, self._writer, self._reader, self._to = self._writer, None, None, None
        if writer is not None:
            writer.close()

    async def _open(self, to: Destination) -> None:
        self.close()
        self._reader, self._writer = await asyncio.open_connection(
            str(to.address),
            to.port,
            ssl=self._tls if to.tls else None,
            server_hostname=to.server_name if to.tls else None,
            limit=MAX_HEAD_BYTES,
        )
        self._to = to

    async def _exchange(self, to: Destination, headers: str, body: bytes) -> int:
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        writer.write(
            f"POST {to.target} HTTP/1.1\r\nHost: {to.host_header}\r\n"
            f"Content-Length: {len(body)}\r\n{headers}\r\n".encode("ascii")
            + body
        )
        await writer.drain()
        try:
            head = read_head(await reader.readuntil(b"\r\n\r\n"))
            while 100 <= head.status < 200:  # 100 Continue and the like come before it
                head = read_head(await reader.readuntil(b"\r\n\r\n"))
        except asyncio.LimitOverrunError:
            self.close()
            raise BadAnswer(f"an answer's head longer than {MAX_HEAD_BYTES} bytes") from None
        except BadAnswer:
            self.close()
            raise
        if head.keep and head.length is not None and head.length <= MAX_BODY_BYTES:
            if head.length:
                await reader.readexactly(head.length)
        else:
            self.close()
        return head.status
