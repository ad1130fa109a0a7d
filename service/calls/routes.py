"""`/v1/calls`: flag a behavioural-health call and follow it."""

import time
import uuid
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from models.call import CallCancel, CallCreate, CallPublic, CallUpdate
from models.vocabulary import CallStatus
from service.calls import by_road, updates
from service.calls import operations as calls
from service.trust import audit
from service.trust.access import CALL_TAKERS
from service.trust.audit import Actor
from service.web.deps import CurrentActor, State
from service.web.responses import Limit, Offset, errors
from service.web.run_once import RunOnce
from service.web.state import AppState

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
    config = once.state.dispatch
    routed = None
    if config.roads is not None:  # asked before the write, so it never holds the lock
        routed = await once.state.uow.read(
            by_road.route_intake,
            principal=once.principal,
            body=body,
            config=config,
            roads=config.roads,
        )
    response = await once.run(
        body=body,
        status=201,
        roles=CALL_TAKERS,
        action="create calls",
        work=partial(
            calls.create_call, principal=once.principal, body=body, config=config, routed=routed
        ),
    )
    once.state.metrics.intake_seconds.observe(time.perf_counter() - started)
    once.state.metrics.calls.inc()
    return response


@router.get("", responses=errors(403))
async def list_calls(
    actor: CurrentActor,
    state: State,
    status: CallStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[CallPublic]:
    """Calls, newest first; a responder token lists only calls it is on.

    Each call's narrative and substance-use category show only to those who need
    them; every answer that shows them is recorded in the audit log.
    """
    found = await state.uow.read(
        calls.list_calls, principal=actor.who, status=status, limit=limit, offset=offset
    )
    await audit_sensitive_reads(state, actor, found)
    return found


@router.get("/{call_id}", responses=errors(404))
async def get_call(call_id: uuid.UUID, actor: CurrentActor, state: State) -> CallPublic:
    """One call with its plan and assignments; sensitive fields only for those who need
    them, and their reading is recorded in the audit log."""
    call = await state.uow.read(calls.read_call, principal=actor.who, call_id=call_id)
    await audit_sensitive_reads(state, actor, [call])
    return call


async def audit_sensitive_reads(state: AppState, actor: Actor, shown: list[CallPublic]) -> None:
    """Record which calls' sensitive fields this answer shows, before it is sent."""
    read = {
        str(c.id): fields
        for c in shown
        if (fields := audit.sensitive_shown(narrative=c.narrative, category=c.category))
    }
    if not read:
        return
    actor.status = 200
    await state.uow.write(
        audit.record,
        actor=actor,
        outcome="success",
        target=f"call:{next(iter(read))}" if len(read) == 1 else None,
        detail={"read": "sensitive", "calls": read},
    )


@router.patch("/{call_id}", response_model=CallPublic, responses=errors(403, 404, 409))
async def update_call(
    call_id: uuid.UUID,
    body: CallUpdate,
    once: RunOnce,
) -> JSONResponse:
    """Change what was learned since intake: the category, risk flags, priority, age
    group, narrative or language of a pending or dispatched call (409 otherwise).

    Only the fields given change. A changed classification plans the call again by the
    programme in force: a rule that sends another team replaces the team as a fallback
    does (who fits stays, the others are stood down with the reason), and a raised risk
    flag records the old rule's team as unserved, `escalated_by_risk`. The location
    cannot change: a call in another place is another call.
    """
    config = once.state.dispatch
    routed = None
    if config.roads is not None:  # a new team's seats, asked before the write
        routed = await once.state.uow.read(
            by_road.route_update,
            principal=once.principal,
            call_id=call_id,
            body=body,
            config=config,
            roads=config.roads,
        )
    return await once.run(
        body=body,
        status=200,
        roles=CALL_TAKERS,
        action="update calls",
        work=partial(
            updates.update_call,
            principal=once.principal,
            call_id=call_id,
            body=body,
            config=config,
            routed=routed,
        ),
    )


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
        roles=CALL_TAKERS,
        action="cancel calls",
        work=partial(
            calls.cancel_call,
            principal=once.principal,
            call_id=call_id,
            reason=body.reason,
            config=once.state.dispatch,
        ),
    )
