"""Assignments: answers to offers, progress on scene, and what each frees up."""

import uuid
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlmodel import SQLModel, col

from dispatch.config import DispatchConfig
from dispatch.roads import RoadTimes
from models.agency import Principal
from models.call import Assignment, AssignmentPublic, Call
from models.outcome import CloseDetails
from models.vocabulary import AssignmentState, CallStatus, Disposition, OfferPurpose, Role
from service.agencies.operations import offer_timeout_of
from service.calls.operations import close_call
from service.dispatching.call_status import active_states, update_call_status
from service.dispatching.offers import needs_of, offer_role
from service.dispatching.routed import PREPARE_AHEAD, Routed, by_road_for, route_reoffers
from service.dispatching.routed import route_decline as route_decline  # for the routes
from service.dispatching.transitions import move
from service.dispatching.waiting import replan_waiting
from service.errors import Conflict, Invalid, NotFound
from service.outcomes.operations import record_close
from service.store.prepared import Prepared, transient
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role

_ASSIGNMENT = Prepared(
    select(*SQLModel.metadata.tables["assignment"].columns).where(
        col(Assignment.id) == bindparam("id")
    )
)


def get_assignment(tx: Tx, *, principal: Principal, assignment_id: uuid.UUID) -> Assignment:
    """The assignment, if `principal` may see it; otherwise NotFound, as if absent.

    Read by a prepared statement, not through the session (every answer and progress
    report reads one): the object is the session's only if it loaded it already.
    """
    row = tx.run(_ASSIGNMENT, {"id": assignment_id}).first()
    assignment = None if row is None else transient(Assignment, row._asdict())
    visible = assignment is not None and assignment.agency_id == principal.agency_id
    if visible and assignment is not None and principal.role == Role.responder:
        visible = assignment.responder_id == principal.responder_id
    if assignment is None or not visible:
        raise NotFound(f"no assignment {assignment_id} in this agency")
    return assignment


def _may_act(principal: Principal) -> None:
    # The responder acts for itself; staff act for a responder reached by radio.
    if principal.role != Role.responder:
        require_role(principal, STAFF, "answer offers or report progress")


def reoffer(
    tx: Tx, assignment: Assignment, config: DispatchConfig, routed: Routed | None = None
) -> None:
    """After a decline or an expiry: the role goes to the next best at once (by road when
    `routed` ranked it before the write), and the responder set free goes to whichever
    waiting call needs it most."""
    call = tx.session.get(Call, assignment.call_id)
    assert call is not None
    # The role is the plan's unless the call's team changed meanwhile (a fallback).
    need = next((n for n in needs_of(call) if n.role == assignment.role), None)
    if need is not None and call.status in (CallStatus.pending, CallStatus.dispatched):
        timeout = offer_timeout_of(tx, assignment.agency_id)
        offer_role(
            tx,
            call=call,
            need=need,
            config=config,
            offer_timeout_s=timeout,
            **by_road_for(routed, need.role),
        )
        update_call_status(tx, call)
    replan_waiting(tx, agency_id=assignment.agency_id, config=config)


def accept(tx: Tx, *, principal: Principal, assignment_id: uuid.UUID) -> AssignmentPublic:
    assignment = get_assignment(tx, principal=principal, assignment_id=assignment_id)
    _may_act(principal)
    return move(tx, assignment, AssignmentState.accepted)


def decline(
    tx: Tx,
    *,
    principal: Principal,
    assignment_id: uuid.UUID,
    config: DispatchConfig,
    routed: Mapping[uuid.UUID, Routed] | None = None,
) -> AssignmentPublic:
    """Decline an offer: the responder is free again and the role goes to the next best
    (`routed`: ranked by road before the write, `dispatching.routed.route_decline`)."""
    assignment = get_assignment(tx, principal=principal, assignment_id=assignment_id)
    _may_act(principal)
    public = move(tx, assignment, AssignmentState.declined)
    reoffer(tx, assignment, config, (routed or {}).get(assignment.id))
    return public


def report_progress(
    tx: Tx,
    *,
    principal: Principal,
    assignment_id: uuid.UUID,
    status: AssignmentState,
    disposition: Disposition | None,
    config: DispatchConfig,
    close: CloseDetails | None = None,
) -> AssignmentPublic:
    """En route, on scene, cleared. The last to clear closes the call with a disposition
    and the close's other parts (`close`), recorded with it (`outcomes.record_close`)."""
    assignment = get_assignment(tx, principal=principal, assignment_id=assignment_id)
    _may_act(principal)
    if status not in (AssignmentState.en_route, AssignmentState.on_scene, AssignmentState.cleared):
        raise Invalid("status must be en_route, on_scene or cleared")
    if disposition is not None and status != AssignmentState.cleared:
        raise Invalid("a disposition is given when clearing")
    # The last responder on the call closes it. A backup offer nobody has answered yet
    # (a missed check-in's, an emergency's) does not keep open a call its team has
    # finished: it is withdrawn as the call closes. A team member's offer does (the
    # clinician still to come after the officer has gone).
    others = active_states(tx, assignment.call_id)
    others.pop(assignment.id, None)
    backup_offers = [
        aid
        for aid, (state, purpose) in others.items()
        if state == AssignmentState.offered and purpose != OfferPurpose.team
    ]
    last = status == AssignmentState.cleared and len(others) == len(backup_offers)
    if last and disposition is None:
        raise Invalid(
            "this is the call's last responder: clearing closes the call, so give a "
            "disposition (resolved_on_scene, referred, transported_crisis_centre, "
            "transported_ed, voluntary_hold, involuntary_hold, arrest, no_contact)"
        )
    if close is not None and close.given() and not last:
        raise Invalid(
            "backup, referral, destination and follow-up are given with the clear that "
            "closes the call (its last responder's), or added after it: "
            "PATCH /v1/calls/{id}/outcome"
        )
    public = move(tx, assignment, status, disposition=disposition)
    if last and disposition is not None:
        call = tx.session.get(Call, assignment.call_id)
        assert call is not None
        if call.status in (CallStatus.pending, CallStatus.dispatched):
            for offered in backup_offers:
                _withdraw(tx, offered, reason="the call was closed")
            close_call(
                tx,
                agency_id=assignment.agency_id,
                call_id=assignment.call_id,
                disposition=disposition,
            )
            record_close(tx, call=call, disposition=disposition, details=close)
    if status == AssignmentState.cleared:
        replan_waiting(tx, agency_id=assignment.agency_id, config=config)
    return public


def _withdraw(tx: Tx, assignment_id: uuid.UUID, *, reason: str) -> None:
    """Withdraw an offer still unanswered (its responder is free again)."""
    assignment = tx.session.get(Assignment, assignment_id)
    if assignment is not None and assignment.state == AssignmentState.offered:
        move(tx, assignment, AssignmentState.cancelled, reason=reason)


def due_offers(tx: Tx, *, limit: int, ahead: timedelta = timedelta()) -> list[Assignment]:
    """The offers past their deadline (or within `ahead` of it), oldest first."""
    return list(
        tx.session.execute(
            select(Assignment)
            .where(
                col(Assignment.state) == AssignmentState.offered,
                col(Assignment.offer_expires_at) <= tx.now + ahead,
            )
            .order_by(col(Assignment.offer_expires_at))
            .limit(limit)
        ).scalars()
    )


def route_due_offers(
    tx: Tx, *, limit: int, roads: RoadTimes, config: DispatchConfig
) -> dict[uuid.UUID, Routed]:
    """Before the expiry's write: the seats of the offers due, ranked by road. Those due
    within a second are ranked too: the write's clock is a little later than this
    read's, and an offer that fell due in between would go unrouted."""
    due = due_offers(tx, limit=limit, ahead=PREPARE_AHEAD)
    return route_reoffers(tx, assignments=due, roads=roads, config=config)


def expire_due_offers(
    tx: Tx,
    *,
    config: DispatchConfig,
    limit: int,
    prepared: Mapping[uuid.UUID, Routed] | None = None,
) -> int:
    """Expire offers past their deadline and offer each role to the next best (by road
    where `route_due_offers` ranked it before this write).

    Deadlines are rows, so offers pending when a process died still expire after
    the restart; of several replicas running this at once, the conditional update
    lets exactly one act on each offer. Returns how many it expired.
    """
    expired = 0
    for assignment in due_offers(tx, limit=limit):
        try:
            move(tx, assignment, AssignmentState.expired)
        except Conflict:
            continue  # answered or expired by someone else meanwhile
        reoffer(tx, assignment, config, (prepared or {}).get(assignment.id))
        expired += 1
    return expired
