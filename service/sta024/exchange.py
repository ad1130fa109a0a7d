"""One CAD's STA-024 messages, read and answered until it goes (docs/sta-024.md)."""

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocketDisconnect

from models.sta024 import (
    FROM_CAD,
    EventResponse,
    NotImplementedResponse,
    Status,
    Subscribe,
    Terminate,
    TerminateAnswer,
    TerminateResponse,
    Unsubscribe,
    UnsubscribeResponse,
)
from service.consoles.limits import MessageBudget, door_of
from service.consoles.refusals import close_flooded
from service.errors import describe_errors
from service.sta024.requests import answer_subscribe
from service.sta024.subscriber import CLOSE_NO_ANSWER, Subscriber
from service.web.state import AppState

log = structlog.get_logger(__name__)

CLOSE_BAD_MESSAGE = 4400


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A frame that is no STA-024 message: the socket is closed with this reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unfit:
    """A known message that does not fit its schema."""

    name: str
    request_id: str
    subscription_id: str
    detail: str


def read_message(raw: Mapping[str, Any]) -> BaseModel | Unreadable | Unfit:
    """The message in a frame, or what is wrong with it; never an exception."""
    text = raw.get("text")
    if text is None:
        return Unreadable("send JSON objects in text frames")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return Unreadable("not JSON")
    if not isinstance(message, dict) or len(message) != 1:
        return Unreadable('a message is one member naming it: {"subscribe": {...}}')
    ((name, body),) = message.items()
    inner: dict[str, Any] = body if isinstance(body, dict) else {}
    request_id, subscription_id = _said_id(inner, "requestId"), _said_id(inner, "subscriptionId")
    kind = FROM_CAD.get(name)
    if kind is None:
        return NotImplementedResponse(request_id=request_id)
    if not isinstance(body, dict):
        return Unfit(name, request_id, subscription_id, f"{name} must be a JSON object")
    try:
        return kind.model_validate(body)
    except ValidationError as exc:
        detail = describe_errors(exc.errors())
        return Unfit(name, request_id, subscription_id, f"{name}: {detail}")


def _said_id(inner: dict[str, Any], name: str) -> str:
    """An identifier as sent, to echo in a refusal (a string, at most 256 characters)."""
    value = inner.get(name)
    return value[:256] if isinstance(value, str) else ""


async def serve(subscriber: Subscriber, state: AppState) -> None:
    """Answer the CAD's messages until it goes, sends more than its budget (eventResponse
    and terminateResponse are free), or keeps no subscription for the hello timeout."""
    budget = MessageBudget(state.settings.ws_messages_per_s)
    idle_s = state.settings.ws_hello_timeout_s
    while True:
        try:
            wait = None if subscriber.subscriptions else idle_s
            raw = await asyncio.wait_for(subscriber.websocket.receive(), wait)
        except TimeoutError:
            reason = f"no subscription within {idle_s:g} s"
            await subscriber.close(CLOSE_NO_ANSWER, reason)
            return
        except WebSocketDisconnect:
            return
        if raw["type"] == "websocket.disconnect":
            return
        message = read_message(raw)
        if isinstance(message, Unreadable):
            await subscriber.close(CLOSE_BAD_MESSAGE, message.reason)
            return
        free = isinstance(message, EventResponse | TerminateResponse)
        if not free and not budget.spend():
            door = door_of(subscriber.websocket.app.state, state.settings)
            await close_flooded(subscriber, state, door, subscriber.address)
            return
        try:
            await _answer(message, subscriber, state)
        except Exception:
            log.exception("sta024_message_failed", token_id=str(subscriber.principal.token_id))


async def _answer(message: BaseModel | Unfit, subscriber: Subscriber, state: AppState) -> None:
    if isinstance(message, Subscribe):
        await answer_subscribe(message, subscriber, state)
    elif isinstance(message, EventResponse):
        if not any(s.answer(message) for s in subscriber.subscriptions.values()):
            log.debug("sta024_late_event_response", transaction=message.transaction_id)
    elif isinstance(message, Unsubscribe):
        code = _end(subscriber, message.subscription_id)
        subscriber.send(
            UnsubscribeResponse(
                request_id=message.request_id,
                subscription_id=message.subscription_id,
                status_code=code,
                status_text=code.text,
            ).wire("unsubscribeResponse")
        )
    elif isinstance(message, Terminate):
        code = _end(subscriber, message.subscription_id)
        subscriber.send(
            TerminateAnswer(
                request_id=message.request_id,
                subscription_id=message.subscription_id,
                status_code=code,
                status_text=code.text,
            ).wire("terminateResponse")
        )
    elif isinstance(message, TerminateResponse):
        subscriber.terminate_answered(message.subscription_id)
    elif isinstance(message, NotImplementedResponse):
        subscriber.send(message.wire("response"))
    elif isinstance(message, Unfit):
        _refuse_unfit(message, subscriber)


def _end(subscriber: Subscriber, subscription_id: str) -> Status:
    return Status.ok if subscriber.drop(subscription_id) else Status.no_such_subscription


def _refuse_unfit(message: Unfit, subscriber: Subscriber) -> None:
    """A 400 naming what does not fit, where the message has an answer; an unfit
    eventResponse or terminateResponse has none, and is logged."""
    text = f"Bad request: {message.detail}"[:500]
    answer: dict[str, Any] = {
        "requestId": message.request_id,
        "statusCode": int(Status.bad_request),
        "statusText": text,
    }
    if message.name == "subscribe":
        subscriber.send({"subscribeResponse": answer})
    elif message.name in ("unsubscribe", "terminate"):
        answer["subscriptionId"] = message.subscription_id
        name = "unsubscribeResponse" if message.name == "unsubscribe" else "terminateResponse"
        subscriber.send({name: answer})
    else:
        log.info("sta024_unfit_answer", message=message.name, detail=message.detail)
