"""`/v1/calls`: flag a behavioural-health call and follow it."""

import time
import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from models.call import CallCancel, CallCreate, CallPublic
from models.vocabulary import CallStatus
from service import calls
from service.deps import CurrentPrincipal, State
from service.routes import errors
from service.routes.idempotent import RunOnce

router = APIRouter(prefix="/v1/calls", tags=["calls"])


@router.post("", status_code=201, response_model=CallPublic, responses=errors(403, 409))
async def create_call(
    body: CallCreate,
    once: RunOnce,
) -> JSONResponse:
    """Flag a call as behavioural-health and dispatch it.

    The answer holds the plan (the roles the call needs and why, and any still
    missing) and the offers made, each with the responder's ETA and distance.
    The offers reach the responders' consoles as `assignment.offered` events.
    A call whose `external_id` already exists in the agency answers 409; send an
    `Idempotency-Key` to make retries return the first answer instead.
    """
    started = time.perf_counter()
    response = await once.run(
        body=body,
        status=201,
        work=partial(
            calls.create_call, principal=once.principal, body=body, config=once.state.dispatch
        ),
    )
    once.state.metrics.intake_seconds.observe(time.perf_counter() - started)
    once.state.metrics.calls.inc()
    return response


@router.get("", responses=errors(403))
async def list_calls(
    principal: CurrentPrincipal,
    state: State,
    status: CallStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CallPublic]:
    """Calls, newest first; a responder token lists only calls it is on."""
    return await state.uow.read(
        calls.list_calls, principal=principal, status=status, limit=limit, offset=offset
    )


@router.get("/{call_id}", responses=errors(404))
async def get_call(call_id: uuid.UUID, principal: CurrentPrincipal, state: State) -> CallPublic:
    """One call with its plan and assignments; the narrative only for those who need it."""
    return await state.uow.read(calls.read_call, principal=principal, call_id=call_id)


@router.post("/{call_id}/cancel", response_model=CallPublic, responses=errors(403, 404, 409))
async def cancel_call(
    call_id: uuid.UUID,
    body: CallCancel,
    once: RunOnce,
) -> JSONResponse:
    """Stand a call down: open assignments are cancelled and their responders freed."""
    return await once.run(
        body=body,
        status=200,
        work=partial(
            calls.cancel_call,
            principal=once.principal,
            call_id=call_id,
            reason=body.reason,
            config=once.state.dispatch,
        ),
    )
