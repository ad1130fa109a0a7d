"""A rate limit per token, before any route runs.

A token (or, without one, a client address) over its rate gets 429 with
Retry-After, before anything else is spent on it. Bodies are capped by FastAPI's
`max_body_size` (413) and WebSocket messages by the server's `ws_max_size` (1009).
"""

import hashlib
import json
import math
import time

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import ErrorBody


class RateLimit:
    def __init__(self, app: ASGIApp, *, rate_limit: str) -> None:
        self.app = app
        self.rates = parse_many(rate_limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        retry_after = self._spend(_identity(scope))
        if retry_after is not None:
            detail = f"too many requests from this token; retry after {retry_after} s"
            await _answer(send, 429, "TooManyRequests", detail, {"retry-after": str(retry_after)})
            return
        await self.app(scope, receive, send)

    def _spend(self, identity: str) -> int | None:
        """None if the request may go on; else the seconds until it may."""
        for rate in self.rates:
            if not self.limiter.hit(rate, identity):
                reset = self.limiter.get_window_stats(rate, identity).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None


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
