"""`/v1/ws`: the console socket. The protocol is described in docs/api.md."""

import asyncio
import json
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from models.agency import Principal
from models.console import (
    Ack,
    AssignmentAction,
    CheckinAction,
    ClientEnvelope,
    EmergencyAction,
    Hello,
    Ping,
    PositionAction,
    ProgressAction,
)
from models.emergency import EmergencyRaise
from models.responder import PositionUpdate
from models.vocabulary import AssignmentState, Role
from service.assignments import operations as assignments
from service.checkins import operations as checkins
from service.consoles.admission import CLOSE_NOT_ALLOWED, close_if_not_allowed, sign_in
from service.consoles.limits import BurstTally, MessageBudget, Refusal, SocketDoor, Visit, door_of
from service.consoles.refusals import (
    RefusedActions,
    close_flooded,
    record_repeats,
    refuse,
)
from service.emergencies import positions, raising
from service.errors import CoRespondError, Forbidden, describe_errors
from service.live.events import catch_up, record_acks
from service.live.hub import Console, event_frame
from service.trust import audit
from service.trust.audit import Actor
from service.web.state import AppState

log = structlog.get_logger(__name__)

router = APIRouter()

CLOSE_BAD_MESSAGE = 4400
CLOSE_NO_HELLO = 4408
MAX_REPLAY = 10_000
TOKEN_COOKIE = "corespond_token"  # noqa: S105 (a cookie name)
SUBPROTOCOL = "corespond.v1"


def _handshake_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The token from a `bearer.<token>` subprotocol or the cookie, and the subprotocol
    to answer with: `corespond.v1` if offered (a browser drops the socket unless one it
    offered is echoed), else none. The bearer one is never echoed: it is a secret, and
    a response header is logged and cached by proxies."""
    offered: list[str] = list(websocket.scope.get("subprotocols", []))
    bearer = next((p for p in offered if p.startswith("bearer.")), None)
    token = bearer.removeprefix("bearer.") if bearer else websocket.cookies.get(TOKEN_COOKIE)
    return token, SUBPROTOCOL if SUBPROTOCOL in offered else None


def _error(name: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "error": name, "detail": detail}


def parse_message(raw: Mapping[str, Any]) -> Any:
    """The client message in a received frame, or an error frame saying what is wrong;
    never an exception, whatever the frame holds."""
    text = raw.get("text")
    if text is None:
        return _error("BadMessage", "send JSON objects in text frames")
    try:
        return ClientEnvelope.model_validate({"message": json.loads(text)}).message
    except json.JSONDecodeError as exc:
        return _error("BadMessage", f"not JSON: {exc.msg} at character {exc.pos}")
    except RecursionError:
        return _error("BadMessage", "JSON nested too deeply")
    except ValidationError as exc:
        return _error("BadMessage", describe_errors(exc.errors()))
    except ValueError as exc:  # json.loads' other refusals: an integer of 4,300+ digits
        return _error("BadMessage", f"not usable JSON: {str(exc)[:200]}")


async def _hello(websocket: WebSocket, timeout_s: float) -> Hello | None:
    """Wait for the first message, which must be a hello; close the socket if not."""
    try:
        raw = await asyncio.wait_for(websocket.receive(), timeout_s)
    except TimeoutError:
        await websocket.close(CLOSE_NO_HELLO, 'send {"type": "hello"} first')
        return None
    if raw["type"] == "websocket.disconnect":
        return None
    message = parse_message(raw)
    if not isinstance(message, Hello):
        detail = message["detail"] if isinstance(message, dict) else "the first message is hello"
        await websocket.send_json(_error("BadMessage", detail))
        await websocket.close(CLOSE_BAD_MESSAGE, "the first message must be a valid hello")
        return None
    return message


@router.websocket("/v1/ws")
async def console_socket(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.corespond
    door = door_of(websocket.app.state, state.settings)
    handshake_token, subprotocol = _handshake_token(websocket)
    address = websocket.client.host if websocket.client else "unknown"
    visit = door.arrive(address)  # counted from here, so no await slips past a cap
    if isinstance(visit, Refusal):
        # Accepted only to say why: a refused handshake would tell the client nothing.
        await websocket.accept(subprotocol=subprotocol)
        await refuse(websocket, state, door, visit, principal=None, address=address)
        return
    try:
        await websocket.accept(subprotocol=subprotocol)
        await _visit(websocket, state, door, visit, handshake_token)
    finally:
        visit.leave()


async def _visit(
    websocket: WebSocket,
    state: AppState,
    door: SocketDoor,
    visit: Visit,
    handshake_token: str | None,
) -> None:
    """An admitted socket's life: its hello, its token, then its console."""
    if await close_if_not_allowed(websocket, state.settings):
        return
    hello = await _hello(websocket, state.settings.ws_hello_timeout_s)
    visit.greeted()
    if hello is None:
        return
    token = hello.token or handshake_token
    principal, logon = await sign_in(websocket, state, token, address=visit.address, via="ws")
    if principal is None:
        return
    if principal.role == Role.provider:  # it reads its resource over HTTP, nothing here
        await state.uow.write(
            audit.record, actor=logon, outcome="denied", detail={"role": "provider", "via": "ws"}
        )
        await websocket.close(CLOSE_NOT_ALLOWED, "a provider token has no console")
        return
    over = door.sign_in(principal.token_id)
    if over is not None:
        await refuse(websocket, state, door, over, principal=principal, address=visit.address)
        return
    try:
        await state.uow.write(
            audit.record,
            actor=logon,
            outcome="success",
            detail={"via": "ws", "resume_after": hello.resume_after},
        )
        await _console(websocket, state, principal, hello.resume_after)
    finally:
        door.sign_out(principal.token_id)


async def _console(
    websocket: WebSocket, state: AppState, principal: Principal, resume_after: int | None
) -> None:
    console = Console(websocket, principal, state.settings.ws_queue_size)
    await store_acks(state, principal.token_id)
    with state.hub.attached(console):
        # Attached before reading the log, so nothing committed from here on is
        # missed; the sender skips whatever the catch-up already sent.
        await _catch_up(console, resume_after, state)
        sender = console.start()
        refused: RefusedActions = BurstTally()
        try:
            await _serve(console, state, refused)
        finally:
            sender.cancel()
            await store_acks(state, principal.token_id)
            await record_repeats(refused, state, principal, _source(console) or "unknown")


async def _catch_up(console: Console, resume_after: int | None, state: AppState) -> None:
    """Welcome, then in seq order: offers never acknowledged, then what was missed."""
    owed = await state.uow.read(
        catch_up, principal=console.principal, resume_after=resume_after, max_replay=MAX_REPLAY
    )
    send = console.websocket.send_json
    await send(
        {
            "type": "welcome",
            "principal": console.principal.model_dump(mode="json"),
            "seq": owed.head,
        }
    )
    for event in owed.unacked + owed.missed:
        await send(event_frame(event, console.principal))
    if owed.resync:
        await send(
            {
                "type": "resync",
                "detail": "the events after your resume point are no longer kept; "
                "re-read state over HTTP",
                "seq": owed.head,
            }
        )
    console.sent_through = owed.head


async def _serve(console: Console, state: AppState, refused: RefusedActions) -> None:
    """Answer the console's messages until it goes away, or sends more than its budget
    (acks are free: a console acks every event)."""
    budget = MessageBudget(state.settings.ws_messages_per_s)
    while True:
        try:
            raw = await console.websocket.receive()
        except WebSocketDisconnect:
            return
        if raw["type"] == "websocket.disconnect":
            return
        message = parse_message(raw)
        if not isinstance(message, Ack) and not budget.spend():
            door = door_of(console.websocket.app.state, state.settings)
            await close_flooded(console, state, door, _source(console) or "unknown")
            return
        try:
            await _answer(message, console, state, refused)
        except Exception:
            # Like a 500 over HTTP: logged, nothing written, and the console carries on.
            log.exception("console_message_failed", token_id=str(console.principal.token_id))
            console.reply(_error("InternalError", "unexpected; logged, nothing saved"))


async def _answer(message: Any, console: Console, state: AppState, refused: RefusedActions) -> None:
    if isinstance(message, dict):
        console.reply(message)
    elif isinstance(message, Ack):
        _ack(console, message.seq, state)
    elif isinstance(message, Ping):
        console.reply({"type": "pong"})
    elif isinstance(message, AssignmentAction | ProgressAction | CheckinAction):
        console.reply(await _act(message, console, state, refused))
    elif isinstance(message, EmergencyAction | PositionAction):
        console.reply(await _own_act(message, console, state, refused))
    else:
        console.reply(_error("BadMessage", "hello is sent once, first"))


def _ack(console: Console, seq: int, state: AppState) -> None:
    """Acks decide which offers are sent again on reconnect. A responder's are stored
    in batches (every `ACK_FLUSH_S`, and when a console connects or leaves): one write
    per ack cost as much as the call itself. A crash loses at most that second's acks,
    and then an offer is sent again, which consoles drop by seq. Other consoles' acks
    are only kept in memory. An ack past anything this console could have been sent
    (its catch-up, or what the hub has handed on) counts only that far: a console
    cannot acknowledge an offer not yet made, and so never have it sent again."""
    seq = min(seq, max(console.sent_through, state.hub.delivered_through))
    if seq <= console.acked:
        return
    console.acked = seq
    if console.principal.role == Role.responder:
        state.hub.note_ack(console.principal.token_id, seq)


async def store_acks(state: AppState, token_id: uuid.UUID) -> None:
    """Write one token's pending ack now (before a catch-up reads it, or as it leaves)."""
    pending = state.hub.take_acks(token_id)
    if pending:
        await state.uow.write(record_acks, acks=pending)


def _source(console: Console) -> str | None:
    client = console.websocket.client
    return client.host if client else None


async def _act(
    action: AssignmentAction | ProgressAction | CheckinAction,
    console: Console,
    state: AppState,
    refused: RefusedActions,
) -> dict[str, Any]:
    """Run a console's action through the same service functions as its HTTP twin,
    audited like it, except that refusals of one kind are recorded once a second at
    most (with how many more there were): a console repeating a refused action must
    not write a record a message."""
    principal = console.principal
    actor = Actor(
        principal=principal,
        source=_source(console),
        action=f"ws {action.type}",
        target=f"assignment:{action.assignment_id}",
        # Progress kept in the trail, as over HTTP: it outlives the events that say it.
        detail=action.model_dump(mode="json", include={"status", "disposition"}, exclude_none=True)
        if isinstance(action, ProgressAction)
        else None,
    )
    try:
        if isinstance(action, CheckinAction):
            done = await state.uow.write_as(
                actor, checkins.check_in, principal=principal, assignment_id=action.assignment_id
            )
            return {"type": "result", "action": action.type, **done.model_dump(mode="json")}
        if isinstance(action, ProgressAction):
            result = await state.uow.write_as(
                actor,
                assignments.report_progress,
                principal=principal,
                assignment_id=action.assignment_id,
                status=AssignmentState(action.status),
                disposition=action.disposition,
                config=state.dispatch,
            )
        elif action.type == "accept":
            result = await state.uow.write_as(
                actor, assignments.accept, principal=principal, assignment_id=action.assignment_id
            )
        else:
            routed = None
            if state.dispatch.roads is not None:  # before the write, as over HTTP
                routed = await state.uow.read(
                    assignments.route_decline,
                    principal=principal,
                    assignment_id=action.assignment_id,
                    roads=state.dispatch.roads,
                    config=state.dispatch,
                )
            result = await state.uow.write_as(
                actor,
                assignments.decline,
                principal=principal,
                assignment_id=action.assignment_id,
                config=state.dispatch,
                routed=routed,
            )
    except CoRespondError as exc:
        outcome = audit.outcome_of(exc.status)
        repeats = refused.due((actor.action, outcome, exc.name))
        if repeats is not None:
            detail: dict[str, Any] = {"error": exc.name}
            if repeats:
                detail["repeats"] = repeats
            await state.uow.write(audit.record, actor=actor, outcome=outcome, detail=detail)
        return {
            **_error(exc.name, exc.detail),
            "action": action.type,
            "assignment_id": str(action.assignment_id),
        }
    return {"type": "result", "action": action.type, "assignment": result.model_dump(mode="json")}


async def _own_act(
    action: EmergencyAction | PositionAction,
    console: Console,
    state: AppState,
    refused: RefusedActions,
) -> dict[str, Any]:
    """A responder's own emergency or position, through the same service functions as
    their HTTP twins, audited like them; refusals as `_act`'s."""
    principal = console.principal
    actor = Actor(
        principal=principal,
        source=_source(console),
        action=f"ws {action.type}",
        target=f"responder:{principal.responder_id}" if principal.responder_id else None,
        detail=action.model_dump(mode="json", exclude={"type"}, exclude_none=True) or None,
    )
    try:
        if isinstance(action, PositionAction):
            moved = await state.uow.write_as(
                actor,
                positions.report_own_position,
                principal=principal,
                body=PositionUpdate(lat=action.lat, lon=action.lon),
                config=state.dispatch,
            )
            return {
                "type": "result",
                "action": action.type,
                "responder": moved.model_dump(mode="json"),
            }
        if principal.responder_id is None:
            raise Forbidden(
                "only a responder's console raises its own emergency; staff raise one for "
                "a responder with POST /v1/responders/{id}/emergency"
            )
        raised = await state.uow.write_as(
            actor,
            raising.raise_emergency,
            principal=principal,
            responder_id=principal.responder_id,
            body=EmergencyRaise(note=action.note, lat=action.lat, lon=action.lon),
            config=state.dispatch,
        )
    except CoRespondError as exc:
        repeats = refused.due((actor.action, audit.outcome_of(exc.status), exc.name))
        if repeats is not None:
            detail: dict[str, Any] = {
                "error": exc.name,
                **({"repeats": repeats} if repeats else {}),
            }
            await state.uow.write(
                audit.record, actor=actor, outcome=audit.outcome_of(exc.status), detail=detail
            )
        return {**_error(exc.name, exc.detail), "action": action.type}
    return {
        "type": "result",
        "action": action.type,
        "created": raised.created,
        "emergency": raised.emergency.model_dump(mode="json"),
    }
