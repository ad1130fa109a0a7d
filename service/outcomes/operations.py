"""A call's close record as staff read it, and a dispatcher's additions or corrections
after the close (audited by the route, and said by a `call.outcome_amended` event)."""

import uuid

from models.agency import Principal
from models.call import Call
from models.outcome import CallOutcome, CloseDetails, OutcomeAmend, OutcomePublic, Referral
from models.vocabulary import CallStatus
from service.errors import Conflict, NotFound
from service.outcomes.close import apply_details, check_close, record_close, record_stopped
from service.store.transaction import Tx
from service.trust.access import CALL_TAKERS, STAFF, require_role

__all__ = ["amend_outcome", "read_outcome", "record_close", "record_if_referred", "record_stopped"]


def record_if_referred(tx: Tx, call: Call) -> None:
    """For a path that may have referred the call to police after intake (a fallback or
    a reclassification, in `rules`, which may not import this feature): its record, once."""
    if call.status == CallStatus.referred and tx.session.get(CallOutcome, call.id) is None:
        record_stopped(tx, call=call, status=CallStatus.referred)


def _outcome(tx: Tx, principal: Principal, call_id: uuid.UUID) -> CallOutcome:
    outcome = tx.session.get(CallOutcome, call_id)
    if outcome is None or outcome.agency_id != principal.agency_id:
        raise NotFound(f"no close record for call {call_id} in this agency: is it closed?")
    return outcome


def read_outcome(tx: Tx, *, principal: Principal, call_id: uuid.UUID) -> OutcomePublic:
    """The close record (staff and CAD: it tells what happened to the person)."""
    require_role(principal, CALL_TAKERS, "read a call's outcome")
    return OutcomePublic.of(_outcome(tx, principal, call_id))


def amend_outcome(
    tx: Tx, *, principal: Principal, call_id: uuid.UUID, body: OutcomeAmend
) -> OutcomePublic:
    """Add to a closed call's close or correct it; the whole close, as it would then
    read, is checked as at the close (422, nothing written)."""
    require_role(principal, STAFF, "amend a call's outcome")
    outcome = _outcome(tx, principal, call_id)
    if outcome.status != "closed":
        raise Conflict(f"the call was {outcome.status}, not closed: it has no close to amend")
    call = tx.session.get(Call, call_id)
    assert call is not None
    given = body.model_fields_set
    disposition = body.disposition if body.disposition is not None else outcome.disposition
    merged = CloseDetails(
        backup_requested=(
            body.backup_requested if "backup_requested" in given else outcome.backup_requested
        ),
        backup_requested_at=body.backup_requested_at,
        destination_id=body.destination_id if "destination_id" in given else outcome.destination_id,
        referral=body.referral if "referral" in given else _referral_of(outcome),
    )
    check_close(
        tx,
        call=call,
        disposition=disposition,
        details=merged,
        officer_on_call=outcome.officer_on_call,
        backup_requested=bool(merged.backup_requested),
    )
    if disposition is not None and disposition != outcome.disposition:
        outcome.disposition = call.disposition = disposition
    apply_details(tx, outcome, body)
    tx.session.flush()
    public = OutcomePublic.of(outcome)
    tx.record(
        "call.outcome_amended",
        agency_id=outcome.agency_id,
        call_id=call_id,
        data={
            "id": str(call_id),
            "by": principal.role.value,
            "changed": sorted(given),
            "outcome": public.model_dump(mode="json"),
        },
    )
    return public


def _referral_of(outcome: CallOutcome) -> Referral | None:
    if outcome.referral_id is not None:
        return Referral(resource_id=outcome.referral_id)
    if outcome.referral_text is not None:
        return Referral(text=outcome.referral_text)
    return None
