"""Typed dependencies: what a route may ask for."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from models.agency import Principal
from service.auth import principal_for
from service.errors import Unauthorized
from service.state import AppState

_bearer = HTTPBearer(auto_error=False, description="A token from `corespond token create`.")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.corespond
    return state


State = Annotated[AppState, Depends(get_state)]


async def authenticate(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized(
            "send `Authorization: Bearer <token>`; create a token with `corespond token create`"
        )
    principal = await state.uow.read(principal_for, credentials.credentials)
    if principal is None:
        raise Unauthorized("the bearer token is unknown, revoked or expired")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
