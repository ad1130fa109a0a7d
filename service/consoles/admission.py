"""What every socket of the service checks before it serves, the consoles' and
STA-024's alike: where a browser's page came from, and the token it signs in with
(docs/security.md)."""

from urllib.parse import urlsplit

from fastapi import WebSocket

from models.agency import Principal
from service.consoles.refusals import CLOSE_TOO_MANY
from service.live.hub import CLOSE_BAD_TOKEN
from service.settings import Settings
from service.trust import audit
from service.trust.audit import Actor
from service.trust.auth import check_token
from service.web.state import AppState

CLOSE_NOT_ALLOWED = 4403


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Browsers send Origin; other clients (a CAD, the terminal console) need not.
    Without a configured list, only pages served by this host may connect."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if settings.allowed_origins:
        return origin in settings.allowed_origins
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def close_if_not_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Close (4403) a socket opened from a page of another origin; whether it was."""
    if origin_allowed(websocket, settings):
        return False
    await websocket.close(CLOSE_NOT_ALLOWED, "origin not allowed")
    return True


async def sign_in(
    websocket: WebSocket, state: AppState, token: str | None, *, address: str, via: str
) -> tuple[Principal | None, Actor]:
    """Who `token` acts for, and the logon to audit with it. A token missing, unknown,
    revoked or expired is counted with the address's failed HTTP logons, audited as
    denied (until the address is past the limit: then 4429, not audited) and the socket
    closed (4401); the principal is None then."""
    principal, refusal = await state.uow.read(check_token, token) if token else (None, "missing")
    logon = Actor(principal=principal, source=address, action="logon")
    if refusal is None and principal is not None:
        return principal, logon
    if (retry_after := await state.auth_failures.failed(address)) is not None:
        reason = f"too many failed logons from this address; retry after {retry_after} s"
        await websocket.close(CLOSE_TOO_MANY, reason)
        return None, logon
    detail = {"token": refusal, "via": via}
    await state.uow.write(audit.record, actor=logon, outcome="denied", detail=detail)
    await websocket.close(CLOSE_BAD_TOKEN, "token missing, unknown, revoked or expired")
    return None, logon
