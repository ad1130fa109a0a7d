"""`/v1/assignments`: answer an offer."""

import uuid

from fastapi import APIRouter

from models.call import AssignmentPublic
from service import assignments
from service.deps import CurrentPrincipal, State
from service.routes import errors

router = APIRouter(prefix="/v1/assignments", tags=["assignments"])


@router.get("/{assignment_id}", responses=errors(404))
async def get_assignment(
    assignment_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> AssignmentPublic:
    """One assignment; a responder token reads only its own."""
    row = await state.uow.read(
        assignments.get_assignment, principal=principal, assignment_id=assignment_id
    )
    return AssignmentPublic.of(row)


@router.post("/{assignment_id}/accept", responses=errors(403, 404, 409))
async def accept(
    assignment_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> AssignmentPublic:
    """Accept an offer (the responder, or staff for a responder reached by radio)."""
    return await state.uow.write(
        assignments.accept, principal=principal, assignment_id=assignment_id
    )


@router.post("/{assignment_id}/decline", responses=errors(403, 404, 409))
async def decline(
    assignment_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> AssignmentPublic:
    """Decline an offer; the role is offered at once to the next best responder."""
    return await state.uow.write(
        assignments.decline,
        principal=principal,
        assignment_id=assignment_id,
        config=state.dispatch,
    )
