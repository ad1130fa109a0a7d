"""`/v1/responders/{id}/emergency` and `/v1/emergencies`: raise, list, read and close a
responder's emergency."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from models.emergency import EmergencyPublic, EmergencyRaise
from service.emergencies import closing, operations, raising
from service.web.deps import CurrentActor, CurrentPrincipal, State
from service.web.responses import errors

router = APIRouter(tags=["emergencies"])


@router.post(
    "/v1/responders/{responder_id}/emergency",
    status_code=201,
    response_model=EmergencyPublic,
    responses={
        **errors(403, 404, 409),
        200: {"model": EmergencyPublic, "description": "One was open already: that one."},
    },
)
async def raise_emergency(
    responder_id: uuid.UUID,
    actor: CurrentActor,
    state: State,
    body: Annotated[EmergencyRaise | None, Body()] = None,
) -> JSONResponse:
    """Raise an emergency for a responder: its own token, or a dispatcher, supervisor or
    admin on its behalf. The body is optional (`note`, and `lat` with `lon` to say
    where). At once, in one write: `responder.emergency` to every staff console of the
    agency and to the responder, backup offered to the nearest available CIT officers
    (the agency's `emergency_backup_count`) on the responder's call, or on a priority-1
    emergency call made at their position when they are on none, and
    `emergency.position_wanted` to the responder. 201 with the emergency; while one is
    open for the responder, 200 with that one and nothing new."""
    raise_body = body or EmergencyRaise()
    actor.detail = raise_body.model_dump(mode="json", exclude_none=True) or None
    raised = await state.uow.write_as(
        actor,
        raising.raise_emergency,
        principal=actor.who,
        responder_id=responder_id,
        body=raise_body,
        config=state.dispatch,
    )
    status = 201 if raised.created else 200
    return JSONResponse(raised.emergency.model_dump(mode="json"), status_code=status)


@router.get("/v1/emergencies", responses=errors(403))
async def list_emergencies(
    principal: CurrentPrincipal,
    state: State,
    open: Annotated[bool, Query(description="Only those not yet closed.")] = False,
) -> list[EmergencyPublic]:
    """The agency's emergencies, newest first (at most 100); `open=true`: those not yet
    closed, for a board that reloads. A responder token reads only its own."""
    return await state.uow.read(operations.list_emergencies, principal=principal, open_only=open)


@router.get("/v1/emergencies/{emergency_id}", responses=errors(403, 404))
async def get_emergency(
    emergency_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> EmergencyPublic:
    """One emergency, with its responder's latest position."""
    return await state.uow.read(
        operations.read_emergency, principal=principal, emergency_id=emergency_id
    )


@router.post("/v1/emergencies/{emergency_id}/close", responses=errors(403, 404, 409))
async def close_emergency(
    emergency_id: uuid.UUID, actor: CurrentActor, state: State
) -> EmergencyPublic:
    """Close an emergency: a dispatcher, supervisor or admin only (403 for responders);
    `closed_by` records who. Backup offers not yet answered are withdrawn, and an
    emergency call nobody took is cancelled; `emergency.closed` follows."""
    actor.target = f"emergency:{emergency_id}"
    return await state.uow.write_as(
        actor,
        closing.close_emergency,
        principal=actor.who,
        emergency_id=emergency_id,
        config=state.dispatch,
    )
