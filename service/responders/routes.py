"""`/v1/responders`: register officers and clinicians, move them, set availability."""

import uuid
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from models.positions import PositionBatch, PositionBatchResult
from models.responder import (
    KindName,
    PositionUpdate,
    ResponderCreate,
    ResponderPublic,
    StatusUpdate,
)
from models.vocabulary import ResponderStatus
from service.responders import operations as responders
from service.responders import positions
from service.trust.access import STAFF
from service.web.deps import CurrentActor, CurrentPrincipal, State
from service.web.responses import Limit, Offset, errors
from service.web.run_once import RunOnce

router = APIRouter(prefix="/v1/responders", tags=["responders"])


@router.post("", status_code=201, response_model=ResponderPublic, responses=errors(403, 409))
async def create_responder(
    body: ResponderCreate,
    once: RunOnce,
) -> JSONResponse:
    """Register a responder. It starts `off_duty` with no position: set both to dispatch it."""
    return await once.run(
        body=body,
        status=201,
        roles=STAFF,
        action="register responders",
        work=partial(responders.create_responder, principal=once.principal, body=body),
    )


@router.put("/positions", responses=errors(403, 413))
async def report_positions(
    body: PositionBatch, actor: CurrentActor, state: State
) -> PositionBatchResult:
    """A CAD's or an AVL system's batch of unit positions (up to 1,000 a request; this
    route takes bodies up to `CORESPOND_MAX_POSITION_BATCH_BYTES`, 1 MiB). Each unit
    is named by `responder_id` or by its `external_id`; all are applied in one
    transaction, and each report is answered on its own: `applied`, `stale` (older
    than the position held: skipped), `unknown` (no such unit; the others still
    apply) or `refused` (more than a minute ahead of the server's clock)."""
    actor.detail = {"positions": len(body.positions)}  # the events keep where
    return await state.uow.write_as(
        actor, positions.apply_positions, principal=actor.who, body=body, config=state.dispatch
    )


@router.get("", responses=errors(403))
async def list_responders(
    principal: CurrentPrincipal,
    state: State,
    kind: KindName | None = None,
    status: ResponderStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ResponderPublic]:
    """The agency's responders, by name, optionally filtered by kind and status."""
    return await state.uow.read(
        responders.list_responders,
        principal=principal,
        kind=kind,
        status=status,
        limit=limit,
        offset=offset,
    )


@router.get("/{responder_id}", responses=errors(404))
async def get_responder(
    responder_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> ResponderPublic:
    """One responder; a responder token reads only its own."""
    row = await state.uow.read(
        responders.get_responder, principal=principal, responder_id=responder_id
    )
    return ResponderPublic.of(row)


@router.put("/{responder_id}/position", responses=errors(403, 404))
async def set_position(
    responder_id: uuid.UUID, body: PositionUpdate, actor: CurrentActor, state: State
) -> ResponderPublic:
    """Report where a responder is (the responder itself, staff, or a CAD's AVL feed)."""
    actor.detail = body.model_dump(mode="json")  # kept in the trail past the events' purge
    return await state.uow.write_as(
        actor,
        responders.set_position,
        principal=actor.who,
        responder_id=responder_id,
        body=body,
        config=state.dispatch,
    )


@router.put("/{responder_id}/status", responses=errors(403, 404, 409))
async def set_status(
    responder_id: uuid.UUID, body: StatusUpdate, actor: CurrentActor, state: State
) -> ResponderPublic:
    """Go `available`, `off_duty` or `out_of_service`. Refused while on a call."""
    actor.detail = body.model_dump(mode="json")  # kept in the trail past the events' purge
    return await state.uow.write_as(
        actor,
        responders.set_status,
        principal=actor.who,
        responder_id=responder_id,
        status=body.status,
        config=state.dispatch,
    )
