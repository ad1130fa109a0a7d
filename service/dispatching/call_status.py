"""A call's status follows from its assignments: pending until every role has someone."""

import uuid

from sqlalchemy import bindparam, select, update
from sqlmodel import col

from models.call import Assignment, Call
from models.vocabulary import ACTIVE_ASSIGNMENT_STATES, AssignmentState, CallStatus, OfferPurpose
from service.dispatching.offers import needs_of
from service.store.prepared import Prepared
from service.store.transaction import Tx

_ACTIVE_ON_CALL = (
    col(Assignment.call_id) == bindparam("call_id"),
    col(Assignment.state).in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
)
_ACTIVE = select(Assignment).where(*_ACTIVE_ON_CALL)
_ACTIVE_ROLES = Prepared(select(col(Assignment.id), col(Assignment.role)).where(*_ACTIVE_ON_CALL))


def active_assignments(tx: Tx, call_id: uuid.UUID) -> list[Assignment]:
    return list(tx.session.execute(_ACTIVE, {"call_id": call_id}).scalars())


_ACTIVE_STATES = Prepared(
    select(col(Assignment.id), col(Assignment.state), col(Assignment.purpose)).where(
        *_ACTIVE_ON_CALL
    )
)


def active_states(
    tx: Tx, call_id: uuid.UUID
) -> dict[uuid.UUID, tuple[AssignmentState, OfferPurpose]]:
    """The call's active assignments (offered, or taken and not yet cleared), by id:
    each one's state and what it was offered for."""
    return {
        row.id: (row.state, OfferPurpose(row.purpose))
        for row in tx.run(_ACTIVE_STATES, {"call_id": call_id})
    }


def missing_roles(tx: Tx, call: Call) -> list[str]:
    return missing_of(
        call, filled={row.role for row in tx.run(_ACTIVE_ROLES, {"call_id": call.id})}
    )


def missing_of(call: Call, *, filled: set[str]) -> list[str]:
    """The plan's roles nobody in `filled` (the roles of its active assignments) has."""
    return [n.role for n in needs_of(call) if n.role not in filled]


_SET_STATUS = Prepared(
    update(Call).where(col(Call.id) == bindparam("b_id")).values(status=bindparam("b_status"))
)


def update_call_status(tx: Tx, call: Call) -> None:
    """Pending while a role has nobody, dispatched once every role has someone."""
    if call.status not in (CallStatus.pending, CallStatus.dispatched):
        return
    missing = missing_roles(tx, call)
    status = CallStatus.pending if missing else CallStatus.dispatched
    if status == call.status:
        return
    tx.run(_SET_STATUS, {"b_id": call.id, "b_status": status})
    tx.loaded_now(Call, call.id, held=call, status=status)
    tx.record(
        "call.updated",
        agency_id=call.agency_id,
        call_id=call.id,
        data={"id": str(call.id), "status": status.value, "missing": missing},
    )
