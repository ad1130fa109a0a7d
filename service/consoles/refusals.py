"""What the socket's caps refuse, closed with 4429 and audited once a burst
(docs/security.md): a record a second at most for each kind, counting the rest."""

from typing import Any

import structlog
from fastapi import WebSocket

from models.agency import Principal
from service.consoles.limits import BurstTally, Refusal, SocketDoor
from service.live.hub import Console
from service.trust import audit
from service.trust.audit import Actor
from service.web.state import AppState

log = structlog.get_logger(__name__)

CLOSE_TOO_MANY = 4429  # a cap was hit; the close reason names which

# A console's refused actions, by (action, outcome, error).
RefusedActions = BurstTally[tuple[str, str, str]]


async def refuse(
    websocket: WebSocket,
    state: AppState,
    door: SocketDoor,
    refusal: Refusal,
    *,
    principal: Principal | None,
    address: str,
) -> None:
    """Close a socket over a cap: recorded once a second at most for each cap and token
    (or address, before a token is known), with how many it refused meanwhile."""
    repeats = door.refusals.due((refusal.cap, principal.token_id if principal else address))
    if repeats is not None:
        # Before the close: whoever reads the trail after it finds the record there.
        await _record(state, refusal, principal, address, repeats)
    await websocket.close(CLOSE_TOO_MANY, refusal.reason)


async def close_flooded(console: Console, state: AppState, door: SocketDoor, address: str) -> None:
    """Close a console that sent more than its messages a second: one record."""
    flood = door.flooded()
    await _record(state, flood, console.principal, address, 0)
    await console.close(CLOSE_TOO_MANY, flood.reason)


async def record_repeats(
    refused: RefusedActions, state: AppState, principal: Principal, address: str
) -> None:
    """As a console leaves: one record for each kind of refused action it repeated
    since that kind was last recorded."""
    for (action, outcome, error), repeats in refused.take_repeats().items():
        actor = Actor(principal=principal, source=address, action=action)
        detail = {"error": error, "repeats": repeats}
        try:
            await state.uow.write(audit.record, actor=actor, outcome=outcome, detail=detail)
        except Exception:
            log.exception("audit_failed", action=action, repeats=repeats)


async def _record(
    state: AppState, refusal: Refusal, principal: Principal | None, address: str, repeats: int
) -> None:
    detail: dict[str, Any] = {"via": "ws", "cap": refusal.cap, "limit": refusal.limit}
    if repeats:
        detail["repeats"] = repeats
    actor = Actor(principal=principal, source=address, action="ws limit")
    await state.uow.write(audit.record, actor=actor, outcome="rejected", detail=detail)
