"""ASGI middleware that audits every refused or failed `/v1` request.

A successful change is audited in its own transaction (`UnitOfWork.write_as`); a
request that ends in 4xx or 5xx wrote nothing, so its record is written here,
just before the answer goes out: a failed logon (401), a refusal (403), a probe of something
the token may not see (404), a malformed body (422), an error (5xx).
"""

from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.trust import audit
from service.web.state import AppState

log = structlog.get_logger(__name__)

# Answers to a flood are not each worth a write; the rate limiter counts them instead.
_NOT_AUDITED = frozenset({429})


class AuditRefusals:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_audit(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                if status >= 400 and status not in _NOT_AUDITED:
                    # Recorded before the answer leaves: whoever reads the trail next
                    # sees it.
                    await _audit_refusal(scope, status)
            await send(message)

        try:
            await self.app(scope, receive, send_and_audit)
        except Exception:
            if not started:
                await _audit_refusal(scope, 500)
            raise


async def _audit_refusal(scope: Scope, status: int) -> None:
    app_state: AppState = scope["app"].state.corespond
    request_state: dict[str, Any] = scope.get("state", {})
    actor = request_state.get("actor")
    if not isinstance(actor, audit.Actor):
        route = scope.get("route")
        client = scope.get("client")
        actor = audit.Actor(
            principal=request_state.get("principal"),
            source=client[0] if client else None,
            action=f"{scope['method']} {getattr(route, 'path', scope['path'])}",
        )
    if actor.recorded:
        return
    actor.status = status
    refusal = request_state.get("refusal")
    detail = {"token": refusal} if isinstance(refusal, str) else None
    try:
        await app_state.uow.write(
            audit.record, actor=actor, outcome=audit.outcome_of(status), detail=detail
        )
    except Exception:
        # The refusal has been answered already; a lost record must at least be loud.
        log.exception("audit_write_failed", action=actor.action, status=status)
