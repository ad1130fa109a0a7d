"""Closing an emergency: only staff (a dispatcher, a supervisor or an admin), recorded
with who closed it; backup offers nobody answered yet are withdrawn, and an emergency
call made for it keeps only the seats someone took."""

import uuid

from sqlalchemy import select, update
from sqlmodel import col

from dispatch.config import DispatchConfig
from models.agency import Principal
from models.call import Assignment, Call
from models.emergency import Emergency, EmergencyPublic
from models.vocabulary import AssignmentState, CallStatus
from service.calls.operations import cancel_call
from service.dispatching.call_status import update_call_status
from service.dispatching.transitions import move
from service.dispatching.waiting import replan_waiting
from service.emergencies.operations import get_emergency, views_of, who
from service.errors import Conflict
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role

_WITHDRAWN = "the emergency was closed"
# An emergency call someone is already on is theirs to clear; one nobody took is cancelled.
_TAKEN = (
    AssignmentState.accepted,
    AssignmentState.en_route,
    AssignmentState.on_scene,
    AssignmentState.cleared,
)


def close_emergency(
    tx: Tx, *, principal: Principal, emergency_id: uuid.UUID, config: DispatchConfig
) -> EmergencyPublic:
    """Close it (once: a second close is 409), withdraw its backup offers still
    unanswered (accepted backup stays on the call until a dispatcher stands it down),
    and cancel the emergency call made for it if nobody took it."""
    emergency = get_emergency(tx, principal=principal, emergency_id=emergency_id)
    require_role(principal, STAFF, "close emergencies")
    closed_by = who(tx, principal)
    changed = tx.changed(
        update(Emergency)
        .where(col(Emergency.id) == emergency.id, col(Emergency.closed_at).is_(None))
        .values(closed_at=tx.now, closed_by=closed_by)
    )
    if changed != 1:
        tx.session.refresh(emergency)
        raise Conflict(
            f"the emergency was closed already, at {emergency.closed_at} by {emergency.closed_by}"
        )
    tx.session.refresh(emergency)
    _withdraw_backup(tx, emergency, principal=principal, config=config)
    public = views_of(tx, [emergency], principal.agency_id)[0]
    tx.record(
        "emergency.closed",
        agency_id=emergency.agency_id,
        responder_id=emergency.responder_id,
        call_id=emergency.call_id,
        data={"emergency": public.model_dump(mode="json")},
    )
    return public


def _withdraw_backup(
    tx: Tx, emergency: Emergency, *, principal: Principal, config: DispatchConfig
) -> None:
    call = tx.session.get(Call, emergency.call_id) if emergency.call_id else None
    if call is None:
        return
    made = emergency.call_made and call.status in (CallStatus.pending, CallStatus.dispatched)
    if made:
        taken = set(
            tx.session.execute(
                select(col(Assignment.role)).where(
                    col(Assignment.call_id) == call.id, col(Assignment.state).in_(_TAKEN)
                )
            ).scalars()
        )
        if not taken:
            cancel_call(tx, principal=principal, call_id=call.id, reason=_WITHDRAWN, config=config)
            return
        # Its seats nobody took are wanted no more: neither waiting for an officer nor
        # offered (a re-offer after a decline is the call's, not listed as backup).
        call.plan_roles = [seat for seat in call.plan_roles if seat["role"] in taken]
        tx.session.flush()
        unanswered_of = col(Assignment.call_id) == call.id
    else:
        ids = [uuid.UUID(a) for a in emergency.backup]
        if not ids:
            return
        unanswered_of = col(Assignment.id).in_(ids)
    unanswered = tx.session.execute(
        select(Assignment).where(unanswered_of, col(Assignment.state) == AssignmentState.offered)
    ).scalars()
    withdrawn = 0
    for assignment in list(unanswered):
        try:
            move(tx, assignment, AssignmentState.cancelled, reason=_WITHDRAWN)
        except Conflict:
            continue  # answered or expired meanwhile
        withdrawn += 1
    if made:
        update_call_status(tx, call)
    if withdrawn:
        replan_waiting(tx, agency_id=emergency.agency_id, config=config)
