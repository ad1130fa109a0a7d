"""`/v1/ws`: the console socket. The protocol is described in README.md."""

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from models.agency import Principal
from models.console import Ack, AssignmentAction, ClientEnvelope, Hello, Ping, ProgressAction
from models.vocabulary import AssignmentState
from service import assignments
from service.auth import principal_for
from service.errors import CoRespondError, describe_errors
from service.events import events_after, head_seq
from service.hub import Console, event_frame
from service.settings import Settings
from service.state import AppState

router = APIRouter()

CLOSE_BAD_MESSAGE = 4400
CLOSE_BAD_TOKEN = 4401
CLOSE_NOT_ALLOWED = 4403
CLOSE_NO_HELLO = 4408
MAX_REPLAY = 10_000
TOKEN_COOKIE = "corespond_token"  # noqa: S105 (a cookie name)
SUBPROTOCOL = "corespond.v1"


def _handshake_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The token from a `bearer.<token>` subprotocol or the cookie, and the subprotocol
    to answer with (a browser drops the socket unless one it offered is echoed)."""
    offered: list[str] = list(websocket.scope.get("subprotocols", []))
    bearer = next((p for p in offered if p.startswith("bearer.")), None)
    token = bearer.removeprefix("bearer.") if bearer else websocket.cookies.get(TOKEN_COOKIE)
    chosen = SUBPROTOCOL if SUBPROTOCOL in offered else bearer
    return token, chosen


def _origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Browsers send Origin; other clients need not. Without a configured list,
    only pages served by this host may connect."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if settings.allowed_origins:
        return origin in settings.allowed_origins
    return urlsplit(origin).netloc == websocket.headers.get("host")


def _error(name: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "error": name, "detail": detail}


def _parse(raw: Mapping[str, Any]) -> Any:
    """The client message in a received frame, or an error frame saying what is wrong."""
    text = raw.get("text")
    if text is None:
        return _error("BadMessage", "send JSON objects in text frames")
    try:
        return ClientEnvelope.model_validate({"message": json.loads(text)}).message
    except json.JSONDecodeError as exc:
        return _error("BadMessage", f"not JSON: {exc.msg} at character {exc.pos}")
    except ValidationError as exc:
        return _error("BadMessage", describe_errors(exc.errors()))


async def _hello(websocket: WebSocket, timeout_s: float) -> Hello | None:
    """Wait for the first message, which must be a hello; close the socket if not."""
    try:
        raw = await asyncio.wait_for(websocket.receive(), timeout_s)
    except TimeoutError:
        await websocket.close(CLOSE_NO_HELLO, 'send {"type": "hello"} first')
        return None
    if raw["type"] == "websocket.disconnect":
        return None
    message = _parse(raw)
    if not isinstance(message, Hello):
        detail = message["detail"] if isinstance(message, dict) else "the first message is hello"
        await websocket.send_json(_error("BadMessage", detail))
        await websocket.close(CLOSE_BAD_MESSAGE, "the first message must be a valid hello")
        return None
    return message


@router.websocket("/v1/ws")
async def console_socket(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.corespond
    handshake_token, subprotocol = _handshake_token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    if not _origin_allowed(websocket, state.settings):
        await websocket.close(CLOSE_NOT_ALLOWED, "origin not allowed")
        return
    hello = await _hello(websocket, state.settings.ws_hello_timeout_s)
    if hello is None:
        return
    token = hello.token or handshake_token
    principal = await state.uow.read(principal_for, token) if token else None
    if principal is None:
        await websocket.close(CLOSE_BAD_TOKEN, "token unknown, revoked or expired")
        return
    console = Console(websocket, principal, state.settings.ws_queue_size)
    with state.hub.attached(console):
        # Attached before reading the log, so nothing committed from here on is missed;
        # the sender skips what the replay already sent.
        if not await _welcome(console, hello.resume_after, state):
            return
        sender = asyncio.create_task(console.send_events())
        try:
            await _serve(console, state)
        finally:
            sender.cancel()


async def _welcome(console: Console, resume_after: int | None, state: AppState) -> bool:
    principal = console.principal
    head = await state.uow.read(head_seq)
    await console.websocket.send_json(
        {"type": "welcome", "principal": principal.model_dump(mode="json"), "seq": head}
    )
    console.sent_through = head
    if resume_after is None:
        return True
    missed = await state.uow.read(
        events_after, principal=principal, after=resume_after, limit=MAX_REPLAY + 1
    )
    if len(missed) > MAX_REPLAY:
        await console.websocket.send_json(
            {
                "type": "resync",
                "detail": "too many events missed; re-read state over HTTP",
                "seq": head,
            }
        )
        return True
    for event in missed:
        await console.websocket.send_json(event_frame(event))
    console.sent_through = max(head, missed[-1].seq if missed else head)
    return True


async def _serve(console: Console, state: AppState) -> None:
    """Answer the console's messages until it goes away."""
    while True:
        try:
            raw = await console.websocket.receive()
        except WebSocketDisconnect:
            return
        if raw["type"] == "websocket.disconnect":
            return
        message = _parse(raw)
        if isinstance(message, dict):
            console.reply(message)
        elif isinstance(message, Ack):
            console.acked = max(console.acked, message.seq)
        elif isinstance(message, Ping):
            console.reply({"type": "pong"})
        elif isinstance(message, AssignmentAction | ProgressAction):
            console.reply(await _act(message, console.principal, state))
        else:
            console.reply(_error("BadMessage", "hello is sent once, first"))


async def _act(
    action: AssignmentAction | ProgressAction, principal: Principal, state: AppState
) -> dict[str, Any]:
    """Run a console's action through the same service functions as its HTTP twin."""
    try:
        if isinstance(action, ProgressAction):
            result = await state.uow.write(
                assignments.report_progress,
                principal=principal,
                assignment_id=action.assignment_id,
                status=AssignmentState(action.status),
                disposition=action.disposition,
                config=state.dispatch,
            )
        elif action.type == "accept":
            result = await state.uow.write(
                assignments.accept, principal=principal, assignment_id=action.assignment_id
            )
        else:
            result = await state.uow.write(
                assignments.decline,
                principal=principal,
                assignment_id=action.assignment_id,
                config=state.dispatch,
            )
    except CoRespondError as exc:
        return {
            **_error(exc.name, exc.detail),
            "action": action.type,
            "assignment_id": str(action.assignment_id),
        }
    return {"type": "result", "action": action.type, "assignment": result.model_dump(mode="json")}
