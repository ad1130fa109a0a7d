"""Request limits, before any route runs: a rate per token, and a size per body.

1. A token (or, without one, a client address) over its rate gets 429 with
   Retry-After, before anything else is spent on it;
2. a body larger than `max_body_bytes` gets 413, whether it announced its length
   or streamed it in chunks: the route never sees it, so nothing is written.
WebSocket messages are capped by the server itself (`ws_max_size`: close 1009).
"""

import hashlib
import json
import math
import time

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ErrorBody


class RequestLimits:
    def __init__(self, app: ASGIApp, *, rate_limit: str, max_body_bytes: int) -> None:
        self.app = app
        self.rates = parse_many(rate_limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        retry_after = self._spend(_identity(scope))
        if retry_after is not None:
            detail = f"too many requests from this token; retry after {retry_after} s"
            await _answer(send, 429, "TooManyRequests", detail, {"retry-after": str(retry_after)})
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _answer(send, 413, "TooLarge", self._too_large())
            return
        await self._bounded(scope, receive, send)

    def _spend(self, identity: str) -> int | None:
        """None if the request may go on; else the seconds until it may."""
        for rate in self.rates:
            if not self.limiter.hit(rate, identity):
                reset = self.limiter.get_window_stats(rate, identity).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, cutting a streamed body off at the limit and answering 413."""
        received, over = 0, False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not over:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except ClientDisconnect:
            if not over:
                raise
        if over:
            await _answer(send, 413, "TooLarge", self._too_large())

    def _too_large(self) -> str:
        return f"the request body is over {self.max_body_bytes} bytes"


def _identity(scope: Scope) -> str:
    """The bearer token's digest (never the token), or the client's address."""
    authorization = dict(scope["headers"]).get(b"authorization", b"")
    if authorization.lower().startswith(b"bearer "):
        return "token:" + hashlib.sha256(authorization[7:].strip()).hexdigest()[:32]
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


async def _answer(
    send: Send, status: int, name: str, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(ErrorBody(error=name, detail=detail).model_dump()).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
