"""The nearest open resources with room that fit a call, at its close and on the
responder's assignment card."""

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col

from dispatch.travel import Point, geodesic_m
from models.agency import Agency, Principal
from models.call import Assignment, Call
from models.programme import MINUTES_A_DAY, weekly_intervals
from models.resource import Resource, ResourceLocation, Suggestion
from models.rules import ProgrammeVersion
from models.vocabulary import AssignmentState, Role
from service.errors import NotFound
from service.store.transaction import Tx
from service.trust.access import CALL_TAKERS, require_role
from service.trust.disclosure import hides_category

SUGGESTED = 5


def fits(
    resource: Resource,
    *,
    category: str | None,
    age_group: str | None,
    now: datetime,
    zone: ZoneInfo,
) -> bool:
    """In this order:
    1. it has room: capacity above 0, or capacity not tracked (null);
    2. it takes the call's category (an empty list takes every one; no category known,
       as for a principal kept from it, matches any);
    3. it takes the person's age group (likewise);
    4. it is open now, by its weekly hours read in the agency's zone (none: always)."""
    if resource.capacity is not None and resource.capacity <= 0:
        return False
    if category is not None and resource.categories and category not in resource.categories:
        return False
    if age_group is not None and resource.age_groups and age_group not in resource.age_groups:
        return False
    if resource.hours is None:
        return True
    local = now.astimezone(zone)
    minute = local.weekday() * MINUTES_A_DAY + local.hour * 60 + local.minute
    return any(a <= minute < b for a, b in weekly_intervals(resource.hours))


def agency_zone(tx: Tx, agency_id: uuid.UUID) -> ZoneInfo:
    """The zone of the agency's programme in force, which its hours are written in."""
    agency = tx.session.get(Agency, agency_id)
    assert agency is not None
    version = tx.session.get(ProgrammeVersion, (agency_id, agency.programme_version))
    return ZoneInfo(str(version.document.get("timezone", "UTC")) if version else "UTC")


def suggest(
    tx: Tx,
    *,
    agency_id: uuid.UUID,
    lat: float,
    lon: float,
    category: str | None,
    age_group: str | None,
    limit: int = SUGGESTED,
) -> list[Suggestion]:
    """The `limit` nearest (by the geodesic) of the agency's resources that `fits`."""
    zone = agency_zone(tx, agency_id)
    rows = tx.session.execute(
        select(Resource).where(col(Resource.agency_id) == agency_id)
    ).scalars()
    here = Point(lat, lon)
    found = [
        (geodesic_m(here, Point(r.lat, r.lon)), r)
        for r in rows
        if fits(r, category=category, age_group=age_group, now=tx.now, zone=zone)
    ]
    found.sort(key=lambda pair: (pair[0], pair[1].name))
    return [
        Suggestion(
            id=r.id,
            name=r.name,
            kind=r.kind,
            location=ResourceLocation(lat=r.lat, lon=r.lon, address=r.address),
            distance_m=round(distance, 1),
            capacity=r.capacity,
            capacity_updated_at=r.capacity_updated_at,
        )
        for distance, r in found[:limit]
    ]


def for_call(tx: Tx, *, principal: Principal, call_id: uuid.UUID) -> list[Suggestion]:
    """Suggestions for a call the principal may see. A principal kept from substance use
    is suggested places as if the category were unknown: a detox suggested on one call
    and not on another would name it (42 CFR Part 2)."""
    call = tx.session.get(Call, call_id)
    if call is None or call.agency_id != principal.agency_id or not _may_see(tx, principal, call):
        raise NotFound(f"no call {call_id} in this agency")
    return suggest(
        tx,
        agency_id=call.agency_id,
        lat=call.lat,
        lon=call.lon,
        category=None if hides_category(principal) else call.category,
        age_group=call.age_group,
    )


def for_assignment(tx: Tx, *, principal: Principal, assignment_id: uuid.UUID) -> list[Suggestion]:
    """Suggestions for the call of an assignment; a responder asks only of its own."""
    assignment = tx.session.get(Assignment, assignment_id)
    visible = assignment is not None and assignment.agency_id == principal.agency_id
    if visible and assignment is not None and principal.role == Role.responder:
        visible = assignment.responder_id == principal.responder_id
    if assignment is None or not visible:
        raise NotFound(f"no assignment {assignment_id} in this agency")
    return for_call(tx, principal=principal, call_id=assignment.call_id)


def _may_see(tx: Tx, principal: Principal, call: Call) -> bool:
    """Staff and CAD see the agency's calls; a responder those it is on (as
    `calls.get_call`, which this layer may not import); a provider none."""
    if principal.role != Role.responder:
        require_role(principal, CALL_TAKERS, "read a call's suggested resources")
        return True
    return (
        tx.session.execute(
            select(col(Assignment.id)).where(
                col(Assignment.call_id) == call.id,
                col(Assignment.responder_id) == principal.responder_id,
                col(Assignment.state).not_in([AssignmentState.declined, AssignmentState.expired]),
            )
        ).first()
        is not None
    )
