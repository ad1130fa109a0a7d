"""A rate limit per token, before any route runs, and one on failed logons per address.

A token (or, without one, a client address) over its rate gets 429 with
Retry-After, before anything else is spent on it. A token's rate is its role's
(`CORESPOND_RATE_LIMIT_BY_ROLE`: a CAD feeding a fleet's positions needs more than a
console), known from its first authenticated request on (`TokenRoles`); until then,
and for every other role, it is `CORESPOND_RATE_LIMIT`. Bodies are capped by FastAPI's
`max_body_size` (413) and WebSocket messages by the server's `ws_max_size` (1009).

A made-up token is a new token to the rate limit each time, so failed logons
(unknown, expired or revoked tokens, or none where one is needed, over HTTP or a
socket's hello) are also counted per client address (`AuthFailures`); an address
over that limit gets 429 for every logon that would fail, until its window passes,
while valid tokens from the same address (consoles and a CAD behind one proxy) go on.

The counts live in this process (`memory://`), or in Redis (`redis://…`) where
several replicas must share one limit. If Redis cannot be reached the request is
let through and the failure logged: a 911 call is not refused for want of a counter.
"""

import hashlib
import json
import math
import time
from collections.abc import Mapping

import structlog
from limits import parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from models.vocabulary import Role
from service.errors import ErrorBody, say
from service.settings import check_storage_url

log = structlog.get_logger(__name__)

RETRY_STORAGE_S = 5.0
RATE_IDENTITY = "rate_identity"  # the request state's key for what the limit counted


def limit_storage(url: str) -> Storage:
    """`memory://` (this process) or `redis://host:port/db` (shared by replicas)."""
    if check_storage_url(url).startswith("memory://"):
        return MemoryStorage()
    return RedisStorage(
        "async+" + url,
        implementation="redispy",
        key_prefix="corespond-rate",
        socket_connect_timeout=1,
        socket_timeout=1,
    )


class Allowance:
    """Hits counted against rates (the `limits` library's notation, `100/second;3000/minute`)
    per identity, in a storage that may be shared by replicas."""

    def __init__(self, rates: str, storage: Storage) -> None:
        self.rates = parse_many(rates)
        self.limiter = MovingWindowRateLimiter(storage)
        self._unavailable_until = 0.0

    async def spend(self, identity: str) -> int | None:
        """Count one hit: None if it is within every rate; else the seconds until one
        would be (the hit is then not counted)."""
        if time.monotonic() < self._unavailable_until:
            return None
        try:
            for rate in self.rates:
                if not await self.limiter.hit(rate, identity):
                    reset = (await self.limiter.get_window_stats(rate, identity)).reset_time
                    return max(1, math.ceil(reset - time.time()))
        except Exception as exc:
            # The shared counter is unreachable: let requests through, and do not make
            # each one wait for a connection timeout; try again in a few seconds.
            self._unavailable_until = time.monotonic() + RETRY_STORAGE_S
            log.warning(
                "rate_limit_unavailable",
                error=say(exc),
                retry_in_s=RETRY_STORAGE_S,
            )
        return None


class AuthFailures:
    """Failed logons counted per client address (`CORESPOND_AUTH_FAIL_LIMIT`)."""

    def __init__(self, rates: str, storage: Storage) -> None:
        self._allowance = Allowance(rates, storage)

    async def failed(self, address: str | None) -> int | None:
        """Count a failed logon from `address`: None while the address is within its
        limit (answer the failure as usual: 401, and its audit record); else the
        seconds until it may try again (answer 429, and write nothing)."""
        return await self._allowance.spend(f"auth-fail:{address or 'unknown'}")


class TokenRoles:
    """The role of each token that has authenticated, by the identity the limit counts
    it under, so a token's own role sets its rate before anything else is spent on it.

    Learnt by `web.deps.authenticate`; a token's role never changes. A token not yet
    seen (its first request, or a made-up one) is held to the default rate.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._roles: dict[str, Role] = {}
        self._capacity = capacity

    def learn(self, identity: str | None, role: Role) -> None:
        if identity is None or self._roles.get(identity) is role:
            return
        if len(self._roles) >= self._capacity:
            self._roles.clear()  # a rare reset costs each token one request at the default
        self._roles[identity] = role

    def of(self, identity: str) -> Role | None:
        return self._roles.get(identity)


class RateLimit:
    """Requests per token at its role's rate (`CORESPOND_RATE_LIMIT_BY_ROLE`, else
    `CORESPOND_RATE_LIMIT`), or per client address without a token."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate_limit: str,
        by_role: Mapping[Role, str],
        roles: TokenRoles,
        storage: Storage,
    ) -> None:
        self.app = app
        self._allowance = Allowance(rate_limit, storage)
        self._by_role = {role: Allowance(rates, storage) for role, rates in by_role.items()}
        self._roles = roles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        identity = _identity(scope)
        # For `authenticate`, which tells `TokenRoles` whose token this identity is.
        scope.setdefault("state", {})[RATE_IDENTITY] = identity
        role = self._roles.of(identity)
        allowance = self._by_role.get(role, self._allowance) if role else self._allowance
        retry_after = await allowance.spend(identity)
        if retry_after is not None:
            detail = f"too many requests from this token; retry after {retry_after} s"
            await _answer(send, 429, "TooManyRequests", detail, {"retry-after": str(retry_after)})
            return
        await self.app(scope, receive, send)


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
