"""`/v1/sta024`: NENA-STA-024 subscribe/notify over WebSocket, for CAD systems
(docs/sta-024.md). The socket is admitted, counted and limited as the console socket
is (`consoles.limits`, `consoles.refusals`), checks origin and token as it does
(`consoles.admission`), and signs in with a `cad` token sent in
the handshake."""

from fastapi import APIRouter, WebSocket

from models.agency import Principal
from models.vocabulary import Role
from service.consoles.admission import CLOSE_NOT_ALLOWED, close_if_not_allowed, sign_in
from service.consoles.limits import Refusal, SocketDoor, Visit, door_of
from service.consoles.refusals import refuse
from service.sta024.exchange import serve
from service.sta024.subscriber import Subscriber
from service.trust import audit
from service.web.state import AppState

router = APIRouter(tags=["sta-024"])

PATH = "/v1/sta024"
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
    if await close_if_not_allowed(websocket, state.settings):
        return
    visit.greeted()
    token = _handshake_token(websocket)
    principal, logon = await sign_in(websocket, state, token, address=visit.address, via=VIA)
    if principal is None:
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
