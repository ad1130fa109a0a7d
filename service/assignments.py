"""Assignments: a responder answers an offer."""

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from models.agency import Agency, Principal
from models.call import Assignment, AssignmentPublic, Call
from models.responder import Responder
from models.vocabulary import AssignmentState, ResponderStatus, Role
from service.access import STAFF, require_role
from service.calls import update_call_status
from service.dispatching import DispatchConfig, needs_of, offer_role
from service.errors import Conflict, NotFound
from service.unit_of_work import Tx


def get_assignment(tx: Tx, *, principal: Principal, assignment_id: uuid.UUID) -> Assignment:
    """The assignment, if `principal` may see it; otherwise NotFound, as if absent."""
    assignment = tx.session.get(Assignment, assignment_id)
    visible = assignment is not None and assignment.agency_id == principal.agency_id
    if visible and assignment is not None and principal.role == Role.responder:
        visible = assignment.responder_id == principal.responder_id
    if assignment is None or not visible:
        raise NotFound(f"no assignment {assignment_id} in this agency")
    return assignment


def _may_answer(principal: Principal, assignment: Assignment) -> None:
    # The responder answers for itself; staff answer for a responder reached by radio.
    if principal.role == Role.responder:
        return
    require_role(principal, STAFF, "answer offers")


def _move(
    tx: Tx,
    assignment: Assignment,
    *,
    allowed: Collection[AssignmentState],
    to: AssignmentState,
    **stamps: Any,
) -> None:
    """Move the assignment only if it is still in an allowed state (the row decides)."""
    changed = tx.changed(
        update(Assignment)
        .where(
            col(Assignment.id) == assignment.id,
            col(Assignment.state).in_(allowed),
        )
        .values(state=to, **stamps)
    )
    if changed != 1:
        tx.session.refresh(assignment)
        raise Conflict(
            f"assignment is {assignment.state}; only an offered assignment can be "
            f"{'accepted' if to == AssignmentState.accepted else 'declined'}"
        )


def _set_responder(
    tx: Tx, responder_id: uuid.UUID, *, was: ResponderStatus, to: ResponderStatus
) -> None:
    tx.session.execute(
        update(Responder)
        .where(col(Responder.id) == responder_id, col(Responder.status) == was)
        .values(status=to, status_changed_at=tx.now)
    )


def accept(tx: Tx, *, principal: Principal, assignment_id: uuid.UUID) -> AssignmentPublic:
    assignment = get_assignment(tx, principal=principal, assignment_id=assignment_id)
    _may_answer(principal, assignment)
    _move(
        tx,
        assignment,
        allowed=[AssignmentState.offered],
        to=AssignmentState.accepted,
        accepted_at=tx.now,
    )
    _set_responder(
        tx, assignment.responder_id, was=ResponderStatus.offered, to=ResponderStatus.assigned
    )
    public = AssignmentPublic.of(assignment)
    tx.record(
        "assignment.accepted",
        agency_id=assignment.agency_id,
        call_id=assignment.call_id,
        responder_id=assignment.responder_id,
        assignment_id=assignment.id,
        data={"assignment": public.model_dump(mode="json")},
    )
    return public


def decline(
    tx: Tx, *, principal: Principal, assignment_id: uuid.UUID, config: DispatchConfig
) -> AssignmentPublic:
    """Decline an offer: the responder is free again and the role goes to the next best."""
    assignment = get_assignment(tx, principal=principal, assignment_id=assignment_id)
    _may_answer(principal, assignment)
    _move(
        tx,
        assignment,
        allowed=[AssignmentState.offered],
        to=AssignmentState.declined,
        ended_at=tx.now,
    )
    _set_responder(
        tx, assignment.responder_id, was=ResponderStatus.offered, to=ResponderStatus.available
    )
    public = AssignmentPublic.of(assignment)
    tx.record(
        "assignment.declined",
        agency_id=assignment.agency_id,
        call_id=assignment.call_id,
        responder_id=assignment.responder_id,
        assignment_id=assignment.id,
        data={"assignment": public.model_dump(mode="json")},
    )
    call = tx.session.get(Call, assignment.call_id)
    agency = tx.session.get(Agency, assignment.agency_id)
    assert call is not None and agency is not None
    need = next(n for n in needs_of(call) if n.role == assignment.role)
    offer_role(tx, call=call, need=need, config=config, offer_timeout_s=agency.offer_timeout_s)
    update_call_status(tx, call)
    return public
