"""The close record: written by the transaction that closes, cancels or refers a call,
from the call, its assignments and what the close carried.

A close is checked before anything is written, in this order; the first to fail
answers 422 and says why:
1. a destination is given only with a `transported_*` disposition, and is a resource of
   the agency of the kind that disposition takes (`DESTINATION_KINDS`);
2. a referral names a resource of the agency (or is free text);
3. an arrest needs an officer on the call (one that accepted an assignment on it);
4. a time of backup needs backup requested.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import shapely
from h3.api import basic_int as h3
from sqlalchemy import and_, bindparam, case, func, select
from sqlmodel import col

from models.call import Assignment, Call
from models.outcome import CallOutcome, CloseDetails
from models.responder import Responder
from models.vocabulary import DESTINATION_KINDS, Disposition, ResponderKind
from service.errors import Invalid
from service.outcomes.follow_up import open_follow_up
from service.resources.operations import resource_of_agency
from service.rules.programmes import in_force
from service.store.prepared import Prepared, inserting, transient
from service.store.transaction import Tx

PLACE_RES = 8  # where a call was, for maps of the figures: an H3 cell of this resolution


@dataclass(frozen=True, slots=True)
class Times:
    first_offer_at: datetime | None
    first_accept_at: datetime | None
    first_on_scene_at: datetime | None
    officer_on_call: bool


# One read of the call's assignments: the firsts, and whether an officer accepted one.
_TIMES = Prepared(
    select(
        func.min(col(Assignment.offered_at)),
        func.min(col(Assignment.accepted_at)),
        func.min(col(Assignment.on_scene_at)),
        func.max(
            case(
                (
                    and_(
                        col(Assignment.accepted_at).is_not(None),
                        col(Responder.kind) == ResponderKind.officer,
                    ),
                    1,
                ),
                else_=0,
            )
        ),
    )
    .select_from(Assignment)
    .join(Responder, col(Responder.id) == col(Assignment.responder_id))
    .where(col(Assignment.call_id) == bindparam("call_id"))
)
_INSERT, _values = inserting(CallOutcome)


def times_of(tx: Tx, call_id: uuid.UUID) -> Times:
    """The first offer, accept and arrival on scene across the call's assignments, and
    whether an officer accepted one of them."""
    first = tx.run(_TIMES, {"call_id": call_id}).first()  # an aggregate: always a row
    assert first is not None
    offered, accepted, on_scene, officer = first
    return Times(_aware(offered), _aware(accepted), _aware(on_scene), bool(officer))


def _aware(moment: datetime | None) -> datetime | None:
    """An aggregate comes back untyped from SQLite (text): as the column's type would."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def check_close(
    tx: Tx,
    *,
    call: Call,
    disposition: Disposition | None,
    details: CloseDetails,
    officer_on_call: bool,
    backup_requested: bool,
) -> None:
    """Refuse a bad combination before anything is written (the order: module doc)."""
    destination_kinds = DESTINATION_KINDS.get(disposition) if disposition else None
    if details.destination_id is not None:
        if destination_kinds is None:
            raise Invalid(
                "destination_id goes with transported_crisis_centre or transported_ed; "
                f"the disposition is {disposition.value if disposition else 'not given'}"
            )
        resource = resource_of_agency(
            tx, agency_id=call.agency_id, resource_id=details.destination_id
        )
        if resource.kind not in destination_kinds:
            wanted = " or ".join(sorted(destination_kinds))
            raise Invalid(
                f"{disposition.value if disposition else ''} takes a destination of kind "
                f"{wanted}; resource {resource.id} is a {resource.kind}"
            )
    if details.referral is not None and details.referral.resource_id is not None:
        resource_of_agency(tx, agency_id=call.agency_id, resource_id=details.referral.resource_id)
    if disposition == Disposition.arrest and not officer_on_call:
        raise Invalid(
            "arrest needs an officer on the call, and no officer accepted an assignment on "
            "it: choose the disposition that happened, or add the officer's assignment first"
        )
    if details.backup_requested_at is not None and not backup_requested:
        raise Invalid("backup_requested_at is given only with backup_requested: true")


def record_close(
    tx: Tx, *, call: Call, disposition: Disposition, details: CloseDetails | None
) -> CallOutcome:
    """The close record of a call its last responder just cleared (call: already closed
    in this transaction), and the follow-up it asks for."""
    details = details or CloseDetails()
    times = times_of(tx, call.id)
    backup = bool(details.backup_requested)
    check_close(
        tx,
        call=call,
        disposition=disposition,
        details=details,
        officer_on_call=times.officer_on_call,
        backup_requested=backup,
    )
    outcome = _row(tx, call, times, status="closed")
    outcome.disposition = disposition
    apply_details(tx, outcome, details)
    # prepared, not through the session: a close is on every call's path
    tx.run(_INSERT, _values(outcome))
    return outcome


def apply_details(tx: Tx, outcome: CallOutcome, details: CloseDetails) -> None:
    """Set the parts `details` gives (checked already); a follow-up asked opens its task."""
    given = details.model_fields_set
    if "backup_requested" in given and details.backup_requested is not None:
        outcome.backup_requested = details.backup_requested
        if not details.backup_requested:
            outcome.backup_requested_at = None
        elif details.backup_requested_at is None and outcome.backup_requested_at is None:
            outcome.backup_requested_at = outcome.closed_at
    if details.backup_requested_at is not None:
        outcome.backup_requested_at = details.backup_requested_at
    if "destination_id" in given:
        outcome.destination_id = details.destination_id
    if "referral" in given:
        referral = details.referral
        outcome.referral_id = referral.resource_id if referral else None
        outcome.referral_text = referral.text if referral else None
    if details.follow_up is not None:
        task = open_follow_up(
            tx, outcome=outcome, within_h=details.follow_up.within_h, at=outcome.closed_at
        )
        outcome.follow_up_due_at = task.due_at


def record_stopped(tx: Tx, *, call: Call, status: str) -> None:
    """The record of a call cancelled, or referred to police with no CoRespond team:
    no disposition, the times its assignments reached."""
    tx.run(_INSERT, _values(_row(tx, call, times_of(tx, call.id), status=status)))


def _row(tx: Tx, call: Call, times: Times, *, status: str) -> CallOutcome:
    return transient(
        CallOutcome,
        {
            "call_id": call.id,
            "agency_id": call.agency_id,
            "category": call.category,
            "priority": call.priority,
            "age_group": call.age_group,
            "team": call.plan_team,
            "rule": call.plan_rule,
            "area": area_of(tx, call),
            "place_cell": int(h3.latlng_to_cell(call.lat, call.lon, PLACE_RES)),
            "repeat_person": call.repeat_person,
            "repeat_place": call.repeat_place,
            "received_at": call.received_at,
            "first_offer_at": times.first_offer_at,
            "first_accept_at": times.first_accept_at,
            "first_on_scene_at": times.first_on_scene_at,
            "closed_at": call.closed_at or tx.now,
            "status": status,
            "officer_on_call": times.officer_on_call,
            "recorded_at": tx.now,
        },
    )


def area_of(tx: Tx, call: Call) -> str | None:
    """The first (by name) of the programme's areas the call lies in, if any."""
    areas = in_force(tx, call.agency_id).programme.areas
    point = shapely.Point(call.lon, call.lat)
    return next((name for name in sorted(areas) if areas[name].contains(point)), None)
