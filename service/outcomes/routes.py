"""`/v1/calls/{id}/outcome` (a call's close record) and `/v1/follow-ups` (the queue)."""

import uuid
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from models.outcome import (
    FollowUpClaim,
    FollowUpComplete,
    FollowUpPublic,
    OutcomeAmend,
    OutcomePublic,
)
from models.vocabulary import FollowUpState, Role
from service.outcomes import follow_up
from service.outcomes import operations as outcomes
from service.trust.access import STAFF
from service.web.deps import CurrentPrincipal, State
from service.web.responses import Limit, Offset, errors
from service.web.run_once import RunOnce

router = APIRouter(tags=["outcomes"])

WORKERS = STAFF | {Role.responder}  # follow-up: staff, clinicians and peers
WORK = "work follow-up tasks"


@router.get("/v1/calls/{call_id}/outcome", responses=errors(403, 404))
async def get_outcome(
    call_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> OutcomePublic:
    """The close record of a closed, cancelled or referred call (staff and CAD)."""
    return await state.uow.read(outcomes.read_outcome, principal=principal, call_id=call_id)


@router.patch(
    "/v1/calls/{call_id}/outcome", response_model=OutcomePublic, responses=errors(403, 404, 409)
)
async def amend_outcome(call_id: uuid.UUID, body: OutcomeAmend, once: RunOnce) -> JSONResponse:
    """Add to a closed call's close or correct it (dispatchers, supervisors, admins):
    the fields left out keep their value; the change is in the audit log and reaches
    consoles as `call.outcome_amended`. A bad combination answers 422, as at the close."""
    once.actor.detail = body.model_dump(mode="json", exclude_unset=True)
    return await once.run(
        body=body,
        status=200,
        roles=STAFF,
        action="amend a call's outcome",
        work=partial(outcomes.amend_outcome, principal=once.principal, call_id=call_id, body=body),
    )


@router.get("/v1/follow-ups", responses=errors(403))
async def list_follow_ups(
    principal: CurrentPrincipal,
    state: State,
    status: FollowUpState | None = None,
    overdue: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[FollowUpPublic]:
    """Follow-up tasks, soonest due first (`overdue=true`: due and not completed). A
    clinician or peer sees the open queue and its own; officers none."""
    return await state.uow.read(
        follow_up.list_tasks,
        principal=principal,
        state=status,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )


@router.get("/v1/follow-ups/{follow_up_id}", responses=errors(403, 404))
async def get_follow_up(
    follow_up_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> FollowUpPublic:
    """One task."""
    return await state.uow.read(follow_up.read_task, principal=principal, follow_up_id=follow_up_id)


@router.post(
    "/v1/follow-ups/{follow_up_id}/claim",
    response_model=FollowUpPublic,
    responses=errors(403, 404, 409),
)
async def claim_follow_up(
    follow_up_id: uuid.UUID, once: RunOnce, body: FollowUpClaim | None = None
) -> JSONResponse:
    """Take an open task: a clinician or peer for itself (no body); staff for one of
    them (`{"responder_id": …}`). 409 when someone else has it."""
    return await once.run(
        body=body,
        status=200,
        roles=WORKERS,
        action=WORK,
        work=partial(
            follow_up.claim,
            principal=once.principal,
            follow_up_id=follow_up_id,
            responder_id=body.responder_id if body else None,
        ),
    )


@router.post(
    "/v1/follow-ups/{follow_up_id}/complete",
    response_model=FollowUpPublic,
    responses=errors(403, 404, 409),
)
async def complete_follow_up(
    follow_up_id: uuid.UUID, body: FollowUpComplete, once: RunOnce
) -> JSONResponse:
    """Complete a task with its `outcome`: `reached`, `not_reached` or `linked_to_care`
    (the clinician or peer holding it, or staff)."""
    return await once.run(
        body=body,
        status=200,
        roles=WORKERS,
        action=WORK,
        work=partial(
            follow_up.complete,
            principal=once.principal,
            follow_up_id=follow_up_id,
            outcome=body.outcome,
        ),
    )
