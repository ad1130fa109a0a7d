"""A new call's seats ranked by road, in a read before the intake's write."""

from dispatch.config import DispatchConfig
from dispatch.ranking import CallSite
from dispatch.roads import RoadTimes
from models.agency import Principal
from models.call import CallCreate
from models.programme import POLICE
from service.dispatching.offers import needs_from
from service.dispatching.routed import Routed, route_seats
from service.rules.planning import facts_of, plan_for
from service.rules.programmes import in_force
from service.store.transaction import Tx
from service.trust.access import CALL_TAKERS


def route_intake(
    tx: Tx, *, principal: Principal, body: CallCreate, config: DispatchConfig, roads: RoadTimes
) -> Routed | None:
    """Before the intake's write: the seats the call will likely get, ranked by road (a
    read). None when the principal may not create calls or the call goes to police:
    the write then says why, or needs no ranking."""
    if principal.role not in CALL_TAKERS:
        return None
    received_at = body.received_at or tx.now
    force = in_force(tx, principal.agency_id)
    planned = plan_for(tx, force, principal.agency_id, facts_of(body, received_at))
    if planned.team == POLICE:
        return None
    site = CallSite(
        lat=body.location.lat, lon=body.location.lon, on=received_at.date(), language=body.language
    )
    needs = needs_from(planned.columns(force, tx.now)["plan_roles"])
    return route_seats(
        tx, agency_id=principal.agency_id, site=site, needs=needs, roads=roads, config=config
    )
