"""Calls: intake, the plan, the first offers, and what each principal may read."""

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from dispatch.config import DispatchConfig
from models.agency import Principal
from models.call import (
    Assignment,
    AssignmentPublic,
    Call,
    CallCreate,
    CallPublic,
    FallbackTaken,
    Location,
    PlanPublic,
    Risk,
)
from models.programme import POLICE
from models.rules import UnservedReason
from models.vocabulary import (
    ACTIVE_ASSIGNMENT_STATES,
    AssignmentState,
    CallStatus,
    Category,
    Disposition,
    Role,
)
from service.contacts.operations import contacts_said, count_contacts, file_contacts
from service.dispatching.call_status import active_assignments, missing_of, update_call_status
from service.dispatching.offers import call_summary, needs_of, offer_role
from service.dispatching.routed import Routed, by_road_for
from service.dispatching.transitions import move
from service.dispatching.waiting import replan_waiting
from service.errors import Conflict, NotFound
from service.outcomes.operations import record_stopped
from service.rules.fallback import note_unserved, unfilled_roles
from service.rules.planning import (
    facts_of,
    fallback_public,
    plan_for,
    record_intake,
    seats_public,
)
from service.rules.programmes import in_force
from service.store.prepared import Prepared, inserting, transient
from service.store.transaction import Tx
from service.trust.access import CALL_TAKERS, require_role
from service.trust.disclosure import hides_category, reason_without_category


def create_call(
    tx: Tx,
    *,
    principal: Principal,
    body: CallCreate,
    config: DispatchConfig,
    routed: Routed | None = None,
) -> CallPublic:
    """Record the call, plan its team by the agency's programme in force, and offer every
    seat to the best responder free (a call referred to police gets no offers); with
    `routed`, the seats ranked by road before this transaction (`route_intake`)."""
    require_role(principal, CALL_TAKERS, "create calls")
    if body.external_id is not None:
        _refuse_duplicate(tx, agency_id=principal.agency_id, external_id=body.external_id)
    received_at = body.received_at or tx.now
    force = in_force(tx, principal.agency_id)
    planned = plan_for(tx, force, principal.agency_id, facts_of(body, received_at))
    referred = planned.team == POLICE
    columns = planned.columns(force, tx.now)
    counted = count_contacts(
        tx,
        agency_id=principal.agency_id,
        received_at=received_at,
        lat=body.location.lat,
        lon=body.location.lon,
        person=body.person,
        server_key=config.person_key,
        window=timedelta(days=config.repeat_window_days),
    )
    if routed is not None and not referred:
        if said := routed.reason():
            columns["plan_reason"] = f"{columns['plan_reason']}; {said}"[:2000]
        columns["plan_travel"] = routed.travel(tx)
    call = transient(
        Call,
        {
            "agency_id": principal.agency_id,
            "external_id": body.external_id,
            "lat": body.location.lat,
            "lon": body.location.lon,
            "address": body.location.address,
            "category": body.category,
            "weapon": body.risk.weapon,
            "violence": body.risk.violence,
            "medical": body.risk.medical,
            "priority": body.priority,
            "narrative": body.narrative,
            "language": body.language,
            "age_group": body.age_group,
            "status": CallStatus.referred if referred else CallStatus.pending,
            **columns,
            "received_at": received_at,
            "closed_at": tx.now if referred else None,
            "repeat_person": counted.contacts.person,
            "repeat_place": counted.contacts.place,
            "repeat_window_days": counted.contacts.window_days,
        },
    )
    try:
        tx.run(_INSERT_CALL, _call_values(call))  # prepared: not through the session
    except IntegrityError:
        raise Conflict(f"call {body.external_id!r} already exists in this agency") from None
    file_contacts(
        tx, agency_id=call.agency_id, call_id=call.id, received_at=received_at, keys=counted.keys
    )
    tx.record("call.created", agency_id=call.agency_id, call_id=call.id, data=call_summary(call))
    record_intake(tx, call, planned, force)
    if referred:
        record_stopped(tx, call=call, status=CallStatus.referred)
    else:
        for need in needs_of(call):
            offer_role(
                tx,
                call=call,
                need=need,
                config=config,
                offer_timeout_s=force.offer_timeout_s,
                **by_road_for(routed, need.role),
            )
        update_call_status(tx, call)
    return call_view(tx, call, principal)


_INSERT_CALL, _call_values = inserting(Call)
_EXISTING = Prepared(
    select(col(Call.id)).where(
        col(Call.agency_id) == bindparam("agency_id"),
        col(Call.external_id) == bindparam("external_id"),
    )
)


def _refuse_duplicate(tx: Tx, *, agency_id: uuid.UUID, external_id: str) -> None:
    existing = tx.run(
        _EXISTING, {"agency_id": agency_id, "external_id": external_id}
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            f"call {external_id!r} already exists in this agency as {existing}; "
            f"read it with GET /v1/calls/{existing}"
        )


def get_call(tx: Tx, *, principal: Principal, call_id: uuid.UUID) -> Call:
    """The call, if `principal` may see it; otherwise NotFound, as if absent."""
    call = tx.session.get(Call, call_id)
    if (
        call is None
        or call.agency_id != principal.agency_id
        or not _responder_may_see(tx, principal, call_id)
    ):
        raise NotFound(f"no call {call_id} in this agency")
    return call


def read_call(tx: Tx, *, principal: Principal, call_id: uuid.UUID) -> CallPublic:
    return call_view(tx, get_call(tx, principal=principal, call_id=call_id), principal)


def _responder_may_see(tx: Tx, principal: Principal, call_id: uuid.UUID) -> bool:
    """Non-responders pass; a responder sees calls it is offered or was assigned to."""
    if principal.role != Role.responder:
        return True
    return (
        tx.session.execute(
            select(col(Assignment.id)).where(
                col(Assignment.call_id) == call_id,
                col(Assignment.responder_id) == principal.responder_id,
                col(Assignment.state).not_in([AssignmentState.declined, AssignmentState.expired]),
            )
        ).first()
        is not None
    )


_ASSIGNMENTS = select(
    *[col(getattr(Assignment, name)) for name in AssignmentPublic.model_fields]
).order_by(col(Assignment.offered_at), col(Assignment.id))
_ASSIGNMENTS_OF = Prepared(_ASSIGNMENTS.where(col(Assignment.call_id) == bindparam("call_id")))


# Of many calls at once (`views_of`), a chunk's ids a query: within every backend's
# limit on bound parameters.
_VIEWS_CHUNK = 500


def views_of(tx: Tx, calls: Sequence[Call], principal: Principal) -> list[CallPublic]:
    """`call_view` of each call, their assignments read in a query a chunk, not one
    a call (a page of calls, a second's changed incidents for STA-024)."""
    of: dict[uuid.UUID, list[AssignmentPublic]] = {c.id: [] for c in calls}
    ids = list(of)
    for start in range(0, len(ids), _VIEWS_CHUNK):
        query = _ASSIGNMENTS.where(col(Assignment.call_id).in_(ids[start : start + _VIEWS_CHUNK]))
        for row in tx.session.execute(query):
            of[row.call_id].append(AssignmentPublic.model_validate(row._asdict()))
    return [call_view(tx, c, principal, assignments=of[c.id]) for c in calls]


def calls_seen(tx: Tx, *, principal: Principal, call_ids: Sequence[uuid.UUID]) -> list[Call]:
    """Those of the calls that `principal` may see (`get_call`), in one query a chunk;
    the rest are left out, as if absent."""
    calls: list[Call] = []
    for start in range(0, len(call_ids), _VIEWS_CHUNK):
        query = select(Call).where(
            col(Call.id).in_(call_ids[start : start + _VIEWS_CHUNK]),
            col(Call.agency_id) == principal.agency_id,
        )
        calls += tx.session.execute(query).scalars()
    if principal.role == Role.responder:
        calls = [c for c in calls if _responder_may_see(tx, principal, c.id)]
    return calls


def call_view(
    tx: Tx, call: Call, principal: Principal, *, assignments: list[AssignmentPublic] | None = None
) -> CallPublic:
    """The call as `principal` may read it: the narrative and the category only for
    those who need them (`trust.disclosure`). `assignments`: the call's, if read
    already (`views_of`), in the order `_ASSIGNMENTS` reads them."""
    if assignments is None:
        assignments = [
            AssignmentPublic.model_validate(row._asdict())
            for row in tx.run(_ASSIGNMENTS_OF, {"call_id": call.id})
        ]
    missing = []
    if call.status == CallStatus.pending:  # from every assignment, before a responder's filter
        filled = {a.role for a in assignments if a.state in ACTIVE_ASSIGNMENT_STATES}
        missing = missing_of(call, filled=filled)
    if principal.role == Role.responder:
        assignments = [a for a in assignments if a.responder_id == principal.responder_id]
    order = {r["role"]: i for i, r in enumerate(call.plan_roles)}
    assignments.sort(key=lambda a: order.get(a.role, len(order)))  # the plan's order, then time
    withheld: list[str] = []
    narrative = call.narrative
    if narrative is not None and not _may_read_narrative(principal, assignments):
        narrative = None
        withheld.append("narrative")
    category: Category | None = call.category
    seats = seats_public(call.plan_roles)
    fallback = fallback_public(call.plan_fallback)
    rule: str | None = call.plan_rule
    reason, ems = call.plan_reason, call.plan_ems
    if call.plan_travel and principal.role != Role.responder:  # it names colleagues
        reason = f"{reason}; {call.plan_travel}"
    if hides_category(principal):  # on every call, or its absence would name the others
        category, rule = None, None
        withheld.append("category")
        seats = [s.model_copy(update={"prefer_skills": []}) for s in seats]
        for step in fallback:
            step.seats = [s.model_copy(update={"prefer_skills": []}) for s in step.seats]
        reason = reason_without_category(
            team=call.plan_team,
            roles=call.plan_roles,
            weapon=call.weapon,
            violence=call.violence,
            medical=call.medical,
        )
        ems = call.medical
    contacts = None
    if principal.role == Role.responder:  # on every call: its absence says nothing
        withheld.append("contacts")
    elif call.repeat_window_days is not None and call.repeat_place is not None:
        contacts = contacts_said(
            timedelta(days=call.repeat_window_days), call.repeat_person, call.repeat_place
        )
    return CallPublic(
        id=call.id,
        external_id=call.external_id,
        location=Location(lat=call.lat, lon=call.lon, address=call.address),
        category=category,
        risk=Risk(weapon=call.weapon, violence=call.violence, medical=call.medical),
        priority=call.priority,
        narrative=narrative,
        language=call.language,
        age_group=call.age_group,
        status=call.status,
        plan=PlanPublic(
            rule=rule,
            team=call.plan_team,
            seats=seats,
            ems=ems,
            fallback=fallback,
            fallback_at=call.plan_fallback_at,
            taken=[FallbackTaken.model_validate(t) for t in call.plan_taken],
            reason=reason,
            missing=missing,
            programme_version=call.programme_version,
        ),
        assignments=assignments,
        disposition=call.disposition,
        received_at=call.received_at,
        created_at=call.created_at,
        closed_at=call.closed_at,
        contacts=contacts,
        withheld=withheld,
    )


def _may_read_narrative(principal: Principal, assignments: list[AssignmentPublic]) -> bool:
    """Staff and CAD read it; a responder once it has accepted the call (see disclosure)."""
    if not principal.sees_narrative:
        return False
    if principal.role != Role.responder:
        return True
    return any(a.state in _ACCEPTED_OR_LATER for a in assignments)


_ACCEPTED_OR_LATER = frozenset(
    {
        AssignmentState.accepted,
        AssignmentState.en_route,
        AssignmentState.on_scene,
        AssignmentState.cleared,
    }
)


def list_calls(
    tx: Tx, *, principal: Principal, status: CallStatus | None, limit: int, offset: int
) -> list[CallPublic]:
    query = select(Call).where(col(Call.agency_id) == principal.agency_id)
    if principal.role == Role.responder:
        mine = select(col(Assignment.call_id)).where(
            col(Assignment.responder_id) == principal.responder_id,
            col(Assignment.state).not_in([AssignmentState.declined, AssignmentState.expired]),
        )
        query = query.where(col(Call.id).in_(mine))
    if status is not None:
        query = query.where(col(Call.status) == status)
    query = query.order_by(col(Call.received_at).desc(), col(Call.id)).limit(limit).offset(offset)
    return views_of(tx, list(tx.session.execute(query).scalars()), principal)


_CLOSE = Prepared(
    update(Call)
    .where(col(Call.id) == bindparam("b_id"))
    .values(
        status=CallStatus.closed,
        disposition=bindparam("b_disposition"),
        closed_at=bindparam("b_now"),
        plan_fallback_at=None,
    )
)


def close_call(
    tx: Tx, *, agency_id: uuid.UUID, call_id: uuid.UUID, disposition: Disposition
) -> None:
    """The last responder cleared: the call ends with how it ended (every clear would
    otherwise load the whole call through the session to change three columns)."""
    tx.run(_CLOSE, {"b_id": call_id, "b_disposition": disposition, "b_now": tx.now})
    tx.loaded_now(
        Call,
        call_id,
        status=CallStatus.closed,
        disposition=disposition,
        closed_at=tx.now,
        plan_fallback_at=None,
    )
    tx.record(
        "call.closed",
        agency_id=agency_id,
        call_id=call_id,
        data={
            "id": str(call_id),
            "status": CallStatus.closed,
            "disposition": disposition.value,
            "diverted_from_arrest": disposition != Disposition.arrest,
        },
    )


def cancel_call(
    tx: Tx, *, principal: Principal, call_id: uuid.UUID, reason: str, config: DispatchConfig
) -> CallPublic:
    """Stand the call down: its open assignments are cancelled and their responders freed."""
    require_role(principal, CALL_TAKERS, "cancel calls")
    call = get_call(tx, principal=principal, call_id=call_id)
    if call.status in (CallStatus.closed, CallStatus.cancelled, CallStatus.referred):
        raise Conflict(f"call is already {call.status}")
    if unfilled_roles(tx, call):
        note_unserved(tx, call, UnservedReason.cancelled)
    for assignment in active_assignments(tx, call.id):
        move(tx, assignment, AssignmentState.cancelled, reason=f"call cancelled: {reason}")
    call.status, call.closed_at, call.plan_fallback_at = CallStatus.cancelled, tx.now, None
    tx.session.flush()
    record_stopped(tx, call=call, status=CallStatus.cancelled)
    tx.record(
        "call.cancelled",
        agency_id=call.agency_id,
        call_id=call.id,
        data={"id": str(call.id), "status": call.status, "reason": reason},
    )
    replan_waiting(tx, agency_id=call.agency_id, config=config)
    return call_view(tx, call, principal)
