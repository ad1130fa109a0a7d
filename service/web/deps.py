"""Typed dependencies: what a route may ask for."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from models.agency import Principal
from service.errors import Unauthorized
from service.trust.access import confine_provider
from service.trust.audit import Actor
from service.trust.auth import check_token
from service.web.rate_limit import RATE_IDENTITY
from service.web.state import AppState

_bearer = HTTPBearer(auto_error=False, description="A token from `corespond token create`.")


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in
# a worker thread: three such hops cost a POST 2 ms of its 6.7 (bench/HISTORY.md).
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.corespond
    return state


State = Annotated[AppState, Depends(get_state)]


async def authenticate(
    request: Request,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        await _count_failed_logon(request, state)
        raise Unauthorized(
            "send `Authorization: Bearer <token>`; create a token with `corespond token create`"
        )
    principal, refusal = await state.uow.read_briefly(check_token, credentials.credentials)
    # Kept for the audit of a refusal, even of a revoked token (its agency should know).
    request.state.principal = principal
    if refusal is not None:
        request.state.refusal = refusal
        await _count_failed_logon(request, state)
        raise Unauthorized("the bearer token is unknown, revoked or expired")
    assert principal is not None
    confine_provider(principal, request.url.path)  # its own resource, nothing else
    state.token_roles.learn(getattr(request.state, RATE_IDENTITY, None), principal.role)
    return principal


async def _count_failed_logon(request: Request, state: AppState) -> None:
    """Count the failure against the client's address; past `CORESPOND_AUTH_FAIL_LIMIT`
    answer 429, which is not audited (one who guesses tokens writes no row a guess)."""
    retry_after = await state.auth_failures.failed(source_of(request))
    if retry_after is not None:
        raise HTTPException(
            status_code=429,
            detail=f"too many failed logons from this address; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def source_of(request: Request) -> str | None:
    """The client's address (behind a proxy, from its forwarded headers; see docs/operations.md)."""
    return request.client.host if request.client else None


async def actor_of(request: Request, principal: CurrentPrincipal) -> Actor:
    """The audit's who/what/where for this request: `POST /v1/calls/{call_id}/cancel` on
    `call:<id>`."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    params = request.path_params
    target = next(
        (f"{kind}:{params[kind + '_id']}" for kind in _TARGETS if kind + "_id" in params), None
    )
    actor = Actor(
        principal=principal,
        source=source_of(request),
        action=f"{request.method} {path}",
        target=target,
        # The status a success answers (a refusal's replaces it): a PUT's record says 200.
        status=getattr(route, "status_code", None) or 200,
    )
    request.state.actor = actor
    return actor


_TARGETS = ("assignment", "call", "responder")

CurrentActor = Annotated[Actor, Depends(actor_of)]
