"""`/v1/resources`: the agency's directory of places, their live capacity, and the ones
suggested for a call."""

import uuid
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from models.resource import (
    CapacityUpdate,
    ResourceCreate,
    ResourcePublic,
    ResourceUpdate,
    Suggestion,
)
from models.vocabulary import Role
from service.resources import operations as resources
from service.resources import suggestions
from service.trust.access import STAFF
from service.web.deps import CurrentPrincipal, State
from service.web.responses import errors
from service.web.run_once import RunOnce

router = APIRouter(tags=["resources"])

EDIT = "edit the directory"


@router.get("/v1/resources", responses=errors(403))
async def list_resources(principal: CurrentPrincipal, state: State) -> list[ResourcePublic]:
    """The agency's resources by name (a provider token: only its own)."""
    return await state.uow.read(resources.list_resources, principal=principal)


@router.post("/v1/resources", status_code=201, response_model=ResourcePublic, responses=errors(403))
async def create_resource(body: ResourceCreate, once: RunOnce) -> JSONResponse:
    """Add a place to the directory (admins and supervisors)."""
    return await once.run(
        body=body,
        status=201,
        roles=resources.KEEPERS,
        action=EDIT,
        work=partial(resources.create_resource, principal=once.principal, body=body),
    )


@router.get("/v1/resources/{resource_id}", responses=errors(403, 404))
async def get_resource(
    resource_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> ResourcePublic:
    """One resource; a provider token reads only its own."""
    return await state.uow.read(
        resources.read_resource, principal=principal, resource_id=resource_id
    )


@router.patch(
    "/v1/resources/{resource_id}", response_model=ResourcePublic, responses=errors(403, 404)
)
async def update_resource(
    resource_id: uuid.UUID, body: ResourceUpdate, once: RunOnce
) -> JSONResponse:
    """Change a resource's fields (admins and supervisors); those left out keep theirs."""
    return await once.run(
        body=body,
        status=200,
        roles=resources.KEEPERS,
        action=EDIT,
        work=partial(
            resources.update_resource,
            principal=once.principal,
            resource_id=resource_id,
            body=body,
        ),
    )


@router.delete(
    "/v1/resources/{resource_id}", response_model=ResourcePublic, responses=errors(403, 404)
)
async def delete_resource(resource_id: uuid.UUID, once: RunOnce) -> JSONResponse:
    """Remove a resource (422 while a provider token acts for it: revoke that first)."""
    return await once.run(
        body=None,
        status=200,
        roles=resources.KEEPERS,
        action=EDIT,
        work=partial(resources.delete_resource, principal=once.principal, resource_id=resource_id),
    )


@router.put(
    "/v1/resources/{resource_id}/capacity",
    response_model=ResourcePublic,
    responses=errors(403, 404),
)
async def set_capacity(resource_id: uuid.UUID, body: CapacityUpdate, once: RunOnce) -> JSONResponse:
    """Report the beds or slots free now: the resource's own `provider` token, or staff.
    Consoles hear it as `resource.capacity_changed`."""
    return await once.run(
        body=body,
        status=200,
        roles=STAFF | {Role.provider},
        action="update a resource's capacity",
        work=partial(
            resources.set_capacity, principal=once.principal, resource_id=resource_id, body=body
        ),
    )


@router.get("/v1/calls/{call_id}/suggested-resources", responses=errors(403, 404))
async def suggested_for_call(
    call_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> list[Suggestion]:
    """The nearest open resources with room that take the call's category and the
    person's age group (at most 5, nearest first): for the close form."""
    return await state.uow.read(suggestions.for_call, principal=principal, call_id=call_id)


@router.get("/v1/assignments/{assignment_id}/suggested-resources", responses=errors(403, 404))
async def suggested_for_assignment(
    assignment_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> list[Suggestion]:
    """As for the call, for the responder's assignment card (a responder: its own)."""
    return await state.uow.read(
        suggestions.for_assignment, principal=principal, assignment_id=assignment_id
    )
