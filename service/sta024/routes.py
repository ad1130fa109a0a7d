"""`/v1/sta024`: NENA-STA-024 subscribe/notify over WebSocket, for CAD systems
(docs/sta-024.md). The socket is admitted, counted and limited as the console socket
is (`consoles.limits`, `consoles.refusals`), and signs in with a `cad` token sent in
the handshake."""

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from models.agency import Principal
from models.vocabulary import Role
from service.consoles.limits import Refusal, SocketDoor, Visit, door_of
from service.consoles.refusals import CLOSE_TOO_MANY, refuse
from service.live.hub import CLOSE_BAD_TOKEN
from service.sta024.exchange import serve
from service.sta024.subscriber import Subscriber
from service.trust import audit
from service.trust.audit import Actor
from service.trust.auth import check_token
from service.web.state import AppState

router = APIRouter(tags=["sta-024"])

PATH = "/v1/sta024"
CLOSE_NOT_ALLOWED = 4403
VIA = "sta024"


def _handshake_token(websocket: WebSocket) -> str | None:
    """The token from `Authorization: Bearer <token>`, or from a `bearer.<token>`
    subprotocol (never echoed: it is a secret)."""
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    offered: list[str] = list(websocket.scope.get("subprotocols", []))
    bearer = next((p for p in offered if p.startswith("bearer.")), None)
    return bearer.removeprefix("bearer.") if bearer else None


def _origin_allowed(websocket: WebSocket, state: AppState) -> bool:
    """As for consoles: a browser's page must come from this host or an allowed origin;
    a CAD sends no Origin."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if state.settings.allowed_origins:
        return origin in state.settings.allowed_origins
    return urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket(PATH)
async def sta024_socket(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.corespond
    door = door_of(websocket.app.state, state.settings)
    address = websocket.client.host if websocket.client else "unknown"
    visit = door.arrive(address)  # counted with the consoles' sockets
    if isinstance(visit, Refusal):
        await websocket.accept()  # only to say why: a refused handshake says nothing
        await refuse(websocket, state, door, visit, principal=None, address=address)
        return
    try:
        await websocket.accept()
        await _visit(websocket, state, door, visit)
    finally:
        visit.leave()


async def _visit(websocket: WebSocket, state: AppState, door: SocketDoor, visit: Visit) -> None:
    """An admitted socket's life: its origin, its token and role, then its exchange."""
    if not _origin_allowed(websocket, state):
        await websocket.close(CLOSE_NOT_ALLOWED, "origin not allowed")
        return
    token = _handshake_token(websocket)
    principal, refusal = await state.uow.read(check_token, token) if token else (None, "missing")
    visit.greeted()
    logon = Actor(principal=principal, source=visit.address, action="logon")
    if refusal is not None or principal is None:
        # Counted with the address's failed HTTP logons; past the limit, not audited.
        if (retry_after := await state.auth_failures.failed(visit.address)) is not None:
            reason = f"too many failed logons from this address; retry after {retry_after} s"
            await websocket.close(CLOSE_TOO_MANY, reason)
            return
        detail = {"token": refusal, "via": VIA}
        await state.uow.write(audit.record, actor=logon, outcome="denied", detail=detail)
        await websocket.close(CLOSE_BAD_TOKEN, "token missing, unknown, revoked or expired")
        return
    if principal.role != Role.cad:
        detail = {"role": principal.role.value, "via": VIA}
        await state.uow.write(audit.record, actor=logon, outcome="denied", detail=detail)
        reason = f"STA-024 takes a cad token, not a {principal.role.value} token"
        await websocket.close(CLOSE_NOT_ALLOWED, reason)
        return
    over = door.sign_in(principal.token_id)
    if over is not None:
        await refuse(websocket, state, door, over, principal=principal, address=visit.address)
        return
    try:
        detail = {"via": VIA}
        await state.uow.write(audit.record, actor=logon, outcome="success", detail=detail)
        await _exchange(websocket, state, principal, visit.address)
    finally:
        door.sign_out(principal.token_id)


async def _exchange(
    websocket: WebSocket, state: AppState, principal: Principal, address: str
) -> None:
    subscriber = Subscriber(
        websocket,
        principal,
        address=address,
        queue_size=state.settings.ws_queue_size,
        answer_s=state.settings.ws_ping_timeout_s,
    )
    # Attached before any subscription reads the log, so nothing committed is missed.
    with state.hub.attached(subscriber):
        sender = subscriber.start()
        try:
            await serve(subscriber, state)
        finally:
            subscriber.drop_all()
            sender.cancel()
