"""Check-ins over HTTP: a responder's check-in, the dispatchers' open alarms, and their
acknowledgement."""

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from models.checkin import CheckinAlarm, CheckinBody, CheckinDone, CheckinPublic
from models.vocabulary import Role
from service.checkins import operations
from service.errors import Invalid
from service.trust.access import STAFF
from service.web.deps import CurrentActor, CurrentPrincipal, State
from service.web.responses import errors
from service.web.run_once import RunOnce

router = APIRouter(tags=["check-ins"])


@router.post(
    "/v1/assignments/{assignment_id}/checkin",
    response_model=CheckinDone,
    responses=errors(403, 404, 409),
)
async def check_in(
    assignment_id: uuid.UUID,
    once: RunOnce,
    body: Annotated[CheckinBody | None, Body()] = None,
) -> JSONResponse:
    """Check in on scene (the assignment's responder, or staff for one reached by radio):
    the prompt is answered and the next check-in is due `next_due_at` (null when the
    agency has check-ins off). A check-in after a missed one is recorded on it (`checkin`
    is the missed one, with `done_at`; its alarm stays until acknowledged). 409 if the
    assignment is not on scene. Safe to retry with an `Idempotency-Key`."""
    return await once.run(
        body=body,
        status=200,
        roles=STAFF | {Role.responder},
        action="check in",
        work=partial(operations.check_in, principal=once.principal, assignment_id=assignment_id),
    )


@router.get("/v1/checkins", responses=errors(403, 422))
async def open_checkins(
    principal: CurrentPrincipal,
    state: State,
    open: Annotated[
        bool, Query(description="Only `true` is served: the alarms and prompts still open.")
    ] = True,
) -> list[CheckinAlarm]:
    """The missed check-ins not yet acknowledged and the prompts due now, newest first,
    each with its responder (name, unit, kind, last position) and its call (dispatchers,
    supervisors, admins). A responder gets its own prompts due now, no alarm."""
    if not open:
        raise Invalid("open: only the open check-ins are listed; ask with open=true")
    return await state.uow.read(operations.open_checkins, principal=principal)


@router.post("/v1/checkins/{checkin_id}/acknowledge", responses=errors(403, 404, 409))
async def acknowledge(checkin_id: uuid.UUID, actor: CurrentActor, state: State) -> CheckinPublic:
    """A dispatcher, supervisor or admin has seen a missed check-in: its alarm closes on
    every console (`checkin.acknowledged`). Again on one acknowledged: the same answer."""
    return await state.uow.write_as(
        actor, operations.acknowledge, principal=actor.who, checkin_id=checkin_id
    )
