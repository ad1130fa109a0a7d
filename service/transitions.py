"""Moving an assignment along its lifecycle, with its responder, in one place."""

from sqlalchemy import update
from sqlmodel import col

from dispatch.lifecycle import RESPONDER_STATUS, STAMP, sources
from models.call import Assignment, AssignmentPublic
from models.responder import Responder
from models.vocabulary import BUSY_RESPONDER_STATUSES, AssignmentState
from service.errors import Conflict
from service.unit_of_work import Tx


def move(tx: Tx, assignment: Assignment, to: AssignmentState) -> AssignmentPublic:
    """Move `assignment` to `to` if its row still allows it, and its responder with it.

    The conditional UPDATE decides: of two replicas, two sockets or a socket and
    a timer acting at once, exactly one moves the row; the other gets Conflict.
    """
    where = [col(Assignment.id) == assignment.id, col(Assignment.state).in_(sources(to))]
    if to == AssignmentState.accepted:
        where.append(col(Assignment.offer_expires_at) > tx.now)
    # Not through the ORM's bulk-update machinery (a tenth of a loaded server's time).
    values = {"state": to, STAMP[to]: tx.now}
    changed = tx.run(update(Assignment).where(*where).values(**values)).rowcount
    if changed == 1:
        tx.loaded_now(Assignment, assignment.id, **values)
    if changed != 1:
        tx.session.refresh(assignment)
        if assignment.state == AssignmentState.offered and to == AssignmentState.accepted:
            raise Conflict("the offer has expired; it is being offered to someone else")
        raise Conflict(f"assignment is {assignment.state}; it cannot become {to.value}")
    tx.changed(
        update(Responder)
        .where(
            col(Responder.id) == assignment.responder_id,
            col(Responder.status).in_(BUSY_RESPONDER_STATUSES),
        )
        .values(status=RESPONDER_STATUS[to], status_changed_at=tx.now)
    )
    public = AssignmentPublic.of(assignment)
    tx.record(
        f"assignment.{to.value}",
        agency_id=assignment.agency_id,
        call_id=assignment.call_id,
        responder_id=assignment.responder_id,
        assignment_id=assignment.id,
        data={
            "assignment": public.model_dump(mode="json"),
            "responder_status": RESPONDER_STATUS[to].value,
        },
    )
    return public
