"""A call's seats ranked by road in a read before its write: a new call's
(`route_intake`), and a new team's when an update will replace the call's
(`route_update`)."""

import dataclasses
import uuid

from dispatch.config import DispatchConfig
from dispatch.ranking import CallSite
from dispatch.roads import RoadTimes
from models.agency import Principal
from models.call import Call, CallCreate, CallUpdate
from models.programme import POLICE
from service.calls.updates import CLASSIFICATION, OPEN, changes_of
from service.dispatching.offers import needs_from, site_of
from service.dispatching.routed import Routed, route_seats
from service.rules.planning import facts_of, facts_of_call, plan_for
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


def route_update(
    tx: Tx,
    *,
    principal: Principal,
    call_id: uuid.UUID,
    body: CallUpdate,
    config: DispatchConfig,
    roads: RoadTimes,
) -> Routed | None:
    """Before an update's write: when the changed classification will send another
    team (not police), that team's seats ranked by road (a read; the call is not
    changed here). None otherwise, or when the write will refuse the update."""
    if principal.role not in CALL_TAKERS:
        return None
    call = tx.session.get(Call, call_id)
    if call is None or call.agency_id != principal.agency_id or call.status not in OPEN:
        return None
    changes = changes_of(call, body)
    if not CLASSIFICATION & changes.keys():
        return None
    facts = dataclasses.replace(
        facts_of_call(call),
        **{name: new for name, (_, new) in changes.items() if name in CLASSIFICATION},
    )
    force = in_force(tx, call.agency_id)
    planned = plan_for(tx, force, call.agency_id, facts)
    if planned.decision.rule == call.plan_rule or planned.team in (call.plan_team, POLICE):
        return None
    site = dataclasses.replace(
        site_of(call), language=changes.get("language", (0, call.language))[1]
    )
    needs = needs_from(planned.columns(force, tx.now)["plan_roles"])
    return route_seats(
        tx, agency_id=call.agency_id, site=site, needs=needs, roads=roads, config=config
    )
