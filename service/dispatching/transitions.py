"""Moving an assignment along its lifecycle, with its responder, in one place."""

import functools
import uuid
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import col

from dispatch.lifecycle import RESPONDER_STATUS, STAMP, sources
from models.call import Assignment, AssignmentPublic
from models.emergency import Emergency
from models.responder import Responder
from models.vocabulary import (
    BUSY_RESPONDER_STATUSES,
    AssignmentState,
    Disposition,
    ResponderStatus,
)
from service.errors import Conflict
from service.store.prepared import Prepared
from service.store.transaction import Tx


def move(
    tx: Tx,
    assignment: Assignment,
    to: AssignmentState,
    *,
    reason: str | None = None,
    disposition: Disposition | None = None,
) -> AssignmentPublic:
    """Move `assignment` to `to` if its row still allows it, and its responder with it;
    `reason` (why it was stood down) goes to the responder's console with the event,
    `disposition` (its responder's, on clearing) is kept with the assignment.

    The conditional UPDATE decides: of two replicas, two sockets or a socket and
    a timer acting at once, exactly one moves the row; the other gets Conflict.
    """
    move_row, move_responder = _statements(to)
    params: dict[str, Any] = {"b_id": assignment.id, "b_now": tx.now}
    stamps: dict[str, Any] = {STAMP[to]: tx.now}
    if to == AssignmentState.cleared:
        params["b_disposition"] = stamps["disposition"] = disposition
    changed = tx.run(move_row, params).rowcount
    if changed != 1:
        state = tx.run(_STATE, {"id": assignment.id}).scalar_one()
        if state == AssignmentState.offered and to == AssignmentState.accepted:
            raise Conflict("the offer has expired; it is being offered to someone else")
        raise Conflict(f"assignment is {state}; it cannot become {to.value}")
    tx.loaded_now(Assignment, assignment.id, held=assignment, state=to, **stamps)
    status = RESPONDER_STATUS[to]
    if tx.run(move_responder, {"b_id": assignment.responder_id, "b_now": tx.now}).rowcount:
        if status == ResponderStatus.available and _in_emergency(tx, assignment):
            status = ResponderStatus.out_of_service
        tx.loaded_now(Responder, assignment.responder_id, status=status, status_changed_at=tx.now)
    public = AssignmentPublic.of(assignment)
    tx.record(
        f"assignment.{to.value}",
        agency_id=assignment.agency_id,
        call_id=assignment.call_id,
        responder_id=assignment.responder_id,
        assignment_id=assignment.id,
        data={
            "assignment": public.model_dump(mode="json"),
            "responder_status": status.value,
            **({"reason": reason} if reason else {}),
        },
    )
    return public


_STATE = Prepared(select(col(Assignment.state)).where(col(Assignment.id) == bindparam("id")))
_OPEN_EMERGENCY = Prepared(
    select(col(Emergency.id)).where(
        col(Emergency.responder_id) == bindparam("id"), col(Emergency.closed_at).is_(None)
    )
)
_STAND_ASIDE = Prepared(
    update(Responder)
    .where(
        col(Responder.id) == bindparam("b_id"),
        col(Responder.status) == ResponderStatus.available,
    )
    .values(status=ResponderStatus.out_of_service, status_changed_at=bindparam("b_now"))
)


def _in_emergency(tx: Tx, assignment: Assignment) -> bool:
    """A responder freed while their emergency is open is offered no call: out of
    service (as raising it made them, were they free), until they or staff say
    available again."""
    if tx.run(_OPEN_EMERGENCY, {"id": assignment.responder_id}).first() is None:
        return False
    stand_aside(
        tx,
        agency_id=assignment.agency_id,
        responder_id=assignment.responder_id,
        reason="an emergency is open",
    )
    return True


def stand_aside(tx: Tx, *, agency_id: uuid.UUID, responder_id: uuid.UUID, reason: str) -> bool:
    """Put an available responder out of service (`responder.status_changed`, with
    `reason`); False if they were not available."""
    if not tx.run(_STAND_ASIDE, {"b_id": responder_id, "b_now": tx.now}).rowcount:
        return False
    tx.record(
        "responder.status_changed",
        agency_id=agency_id,
        responder_id=responder_id,
        data={
            "responder_id": str(responder_id),
            "status": ResponderStatus.out_of_service.value,
            "previous": ResponderStatus.available.value,
            "reason": reason,
        },
    )
    return True


@functools.cache
def _statements(to: AssignmentState) -> tuple[Prepared, Prepared]:
    """The two conditional UPDATEs of a move to `to`, built once a state (building them
    on every move cost more than running them)."""
    where = [
        col(Assignment.id) == bindparam("b_id"),
        col(Assignment.state).in_(sorted(sources(to))),
    ]
    if to == AssignmentState.accepted:
        where.append(col(Assignment.offer_expires_at) > bindparam("b_now"))
    values: dict[str, Any] = {"state": to, STAMP[to]: bindparam("b_now")}
    if to == AssignmentState.cleared:
        values["disposition"] = bindparam("b_disposition")
    move_row = update(Assignment).where(*where).values(values)
    move_responder = (
        update(Responder)
        .where(
            col(Responder.id) == bindparam("b_id"),
            col(Responder.status).in_(sorted(BUSY_RESPONDER_STATUSES)),
        )
        .values(status=RESPONDER_STATUS[to], status_changed_at=bindparam("b_now"))
    )
    return Prepared(move_row), Prepared(move_responder)
