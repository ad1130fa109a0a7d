"""The answer to a `subscribe`: a new subscription started, or one renewed, or the
standard's status code saying why not (docs/sta-024.md)."""

from typing import Any, Protocol

import structlog
from fastapi import WebSocket

from models.sta024 import Status, Subscribe, SubscribeResponse
from service.errors import NotFound, Unavailable
from service.sta024 import operations
from service.sta024.builder import builder_of
from service.sta024.feed import feeds_of
from service.sta024.operations import Scope, Start
from service.sta024.shelf import shelf_of
from service.sta024.subscription import Link, Subscription
from service.sta024.terms import MAX_EXPIRES_S, Wanted, negotiate, renewal_refused
from service.web.state import AppState

log = structlog.get_logger(__name__)

MAX_SUBSCRIPTIONS = 16  # on one socket


class Subscriber(Link, Protocol):
    """The socket, as a subscribe is answered on it (`exchange.Subscriber`)."""

    websocket: WebSocket
    subscriptions: dict[str, Subscription]
    answer_s: float

    def keep(self, subscription: Subscription) -> None: ...


async def answer_subscribe(request: Subscribe, subscriber: Subscriber, state: AppState) -> None:
    if request.subscription_id is not None:
        subscriber.send(_renew(request, subscriber))
        return
    wanted = negotiate(request)
    if isinstance(wanted, tuple):
        subscriber.send(_refusal(request, *wanted))
        return
    if len(subscriber.subscriptions) >= MAX_SUBSCRIPTIONS:
        text = f"Too large: at most {MAX_SUBSCRIPTIONS} subscriptions on one socket"
        subscriber.send(_refusal(request, Status.too_large, text))
        return
    try:
        subscription = await _started(request, wanted, subscriber, state)
    except NotFound as exc:
        subscriber.send(_refusal(request, Status.not_found, f"Not found: {exc.detail}"))
        return
    except Unavailable as exc:
        subscriber.send(_refusal(request, Status.unavailable, f"Service unavailable: {exc.detail}"))
        return
    except Exception:
        log.exception("sta024_subscribe_failed", token_id=str(subscriber.principal.token_id))
        subscriber.send(_refusal(request, Status.server_error, "Server error; logged"))
        return
    # The answer is queued before the task starts, so it goes before the first event.
    subscriber.send(_accepted(request, subscription, _said(request, subscription.resumed)))
    subscriber.keep(subscription)


async def _started(
    request: Subscribe, wanted: Wanted, subscriber: Subscriber, state: AppState
) -> Subscription:
    """The new subscription, its start read and its agency's feed joined."""
    scope, start = await _where_it_starts(request, wanted, subscriber, state)
    app_state = subscriber.websocket.app.state
    builder = builder_of(app_state, state.settings)
    subscription = Subscription(
        scope=scope,
        terms=wanted.terms,
        start=start,
        floor=request.resume_after or 0,
        link=subscriber,
        feed=feeds_of(app_state, builder).of(subscriber.principal),
        uow=state.uow,
        shelf=shelf_of(app_state, builder),
        ack_timeout_s=subscriber.answer_s,
    )

    async def catch_up(after: int, through: int) -> None:
        calls = await state.uow.read(
            operations.changed_since,
            principal=subscriber.principal,
            scope=scope,
            after=after,
            through=through,
        )
        subscription.catch_up(calls, through)

    await subscription.feed.join(subscription, start.head, catch_up)
    return subscription


async def _where_it_starts(
    request: Subscribe, wanted: Wanted, subscriber: Subscriber, state: AppState
) -> tuple[Scope, Start]:
    principal, resuming = subscriber.principal, request.resume_after is not None
    assert wanted.target is not None or wanted.kind == "new"
    if wanted.kind == "single":
        scope = await state.uow.read(
            operations.find_incident,
            principal=principal,
            incident_id=wanted.target or "",
            resuming=resuming,
        )
    elif wanted.kind == "resource":
        scope = await state.uow.read(
            operations.find_unit, principal=principal, unit_id=wanted.target or ""
        )
    else:
        scope = Scope("new")
    start = await state.uow.read(
        operations.start, principal=principal, scope=scope, resume_after=request.resume_after
    )
    return scope, start


def _renew(request: Subscribe, subscriber: Subscriber) -> dict[str, Any]:
    """A renewal: the subscription's lifetime starts again (`expires` as asked, or as
    before); 481 if this socket has no such subscription."""
    subscription = subscriber.subscriptions.get(request.subscription_id or "")
    if subscription is None:
        code = Status.no_such_subscription
        return _refusal(request, code, f"{code.text} on this socket")
    refused = renewal_refused(request)
    if refused is not None:
        return _refusal(request, Status.bad_request, refused)
    asked = request.expires or subscription.terms.expires_s
    subscription.renew(min(asked, MAX_EXPIRES_S))
    return _accepted(request, subscription, Status.ok.text)


def _accepted(request: Subscribe, subscription: Subscription, text: str) -> dict[str, Any]:
    terms = subscription.terms
    return SubscribeResponse(
        request_id=request.request_id,
        subscription_id=subscription.id,
        min_rate=terms.min_rate,
        max_rate=terms.max_rate,
        expires=terms.expires_s,
        status_code=Status.ok,
        status_text=text,
    ).wire("subscribeResponse")


def _refusal(request: Subscribe, code: Status, text: str) -> dict[str, Any]:
    return SubscribeResponse(
        request_id=request.request_id,
        subscription_id=request.subscription_id,
        status_code=code,
        status_text=text,
    ).wire("subscribeResponse")


def _said(request: Subscribe, resumed: bool) -> str:
    """The 200's text: how the subscription starts."""
    if request.resume_after is None:
        return Status.ok.text
    if resumed:
        return f"OK; resumed after {request.resume_after}"
    return f"OK; {request.resume_after} is too far back to resume: the current state follows"
