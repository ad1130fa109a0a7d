"""`/v1/assignments`: answer an offer."""

import uuid
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from models.call import AssignmentPublic, ProgressUpdate
from models.vocabulary import AssignmentState, Role
from service.assignments import operations as assignments
from service.trust.access import STAFF
from service.web.deps import CurrentPrincipal, State
from service.web.responses import errors
from service.web.run_once import RunOnce

router = APIRouter(prefix="/v1/assignments", tags=["assignments"])

# A responder answers its own offers; staff answer for one reached by radio.
ANSWERERS = STAFF | {Role.responder}
ANSWER = "answer offers or report progress"


@router.get("/{assignment_id}", responses=errors(404))
async def get_assignment(
    assignment_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> AssignmentPublic:
    """One assignment; a responder token reads only its own."""
    row = await state.uow.read(
        assignments.get_assignment, principal=principal, assignment_id=assignment_id
    )
    return AssignmentPublic.of(row)


@router.post(
    "/{assignment_id}/accept", response_model=AssignmentPublic, responses=errors(403, 404, 409)
)
async def accept(
    assignment_id: uuid.UUID,
    once: RunOnce,
) -> JSONResponse:
    """Accept an offer (the responder, or staff for a responder reached by radio)."""
    return await once.run(
        body=None,
        status=200,
        roles=ANSWERERS,
        action=ANSWER,
        work=partial(assignments.accept, principal=once.principal, assignment_id=assignment_id),
    )


@router.post(
    "/{assignment_id}/decline", response_model=AssignmentPublic, responses=errors(403, 404, 409)
)
async def decline(
    assignment_id: uuid.UUID,
    once: RunOnce,
) -> JSONResponse:
    """Decline an offer; the role is offered at once to the next best responder."""
    config = once.state.dispatch
    routed = None
    if config.roads is not None:  # asked before the write, so it never holds the lock
        routed = await once.state.uow.read(
            assignments.route_decline,
            principal=once.principal,
            assignment_id=assignment_id,
            roads=config.roads,
            config=config,
        )
    return await once.run(
        body=None,
        status=200,
        roles=ANSWERERS,
        action=ANSWER,
        work=partial(
            assignments.decline,
            principal=once.principal,
            assignment_id=assignment_id,
            config=config,
            routed=routed,
        ),
    )


@router.post(
    "/{assignment_id}/status", response_model=AssignmentPublic, responses=errors(403, 404, 409)
)
async def report_progress(
    assignment_id: uuid.UUID,
    body: ProgressUpdate,
    once: RunOnce,
) -> JSONResponse:
    """Report `en_route`, `on_scene` or `cleared` on an accepted assignment.

    The last responder to clear closes the call and must give its `disposition`; an
    earlier clear's disposition is kept with its assignment.
    """
    # Kept in the trail, which outlives the events that also say it.
    once.actor.detail = body.model_dump(mode="json", exclude_none=True)
    return await once.run(
        body=body,
        status=200,
        roles=ANSWERERS,
        action=ANSWER,
        work=partial(
            assignments.report_progress,
            principal=once.principal,
            assignment_id=assignment_id,
            status=AssignmentState(body.status),
            disposition=body.disposition,
            config=once.state.dispatch,
            close=body.close_details(),
        ),
    )
