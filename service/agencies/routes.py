"""`/v1/agency`: the signed-in principal's agency and its settings."""

from fastapi import APIRouter

from models.agency import AgencySettings, AgencySettingsUpdate
from service.agencies import operations
from service.web.deps import CurrentActor, CurrentPrincipal, State
from service.web.responses import errors

router = APIRouter(tags=["agency"])


@router.get("/v1/agency", responses=errors(401))
async def get_agency(principal: CurrentPrincipal, state: State) -> AgencySettings:
    """The agency of the token: its name, slug, offer timeout and the safety settings
    consoles follow (check-in interval, grace and rule; emergency backup count and
    position interval; how often a phone reports its position). Any principal."""
    return await state.uow.read(operations.read_settings, principal=principal)


@router.patch("/v1/agency", responses=errors(403, 422))
async def patch_agency(
    body: AgencySettingsUpdate, actor: CurrentActor, state: State
) -> AgencySettings:
    """Change the agency's settings (admins): the fields given change, the others stay.
    A value out of bounds is refused with 422 naming the field, and nothing changes;
    the audit trail keeps the old and the new values."""
    return await state.uow.write_as(actor, operations.change_settings, by=actor, body=body)
