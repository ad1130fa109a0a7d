"""Raising an emergency (once while open), in one transaction.

Raising does everything at once, in the raising write: the `responder.emergency` event
(staff of the agency and the responder see it), backup offers to the nearest available
CIT officers (`emergencies.backup`), and `emergency.position_wanted` to the responder.
The responder's later positions are their ordinary `responder.position_changed` events,
which every staff console sees already: the emergency's position is read from the
responder's row, so a position report costs nothing more during an emergency.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from dispatch.config import DispatchConfig
from models.agency import Agency, Principal
from models.call import Assignment, Call
from models.emergency import Emergency, EmergencyPublic, EmergencyRaise
from models.responder import Responder
from models.vocabulary import AssignmentState, ResponderStatus, Role
from service.dispatching.offers import backup_names, backup_roles
from service.dispatching.transitions import stand_aside
from service.emergencies.backup import Backup, make_emergency_call, offer_backup
from service.emergencies.operations import open_of, public_of, who
from service.emergencies.positions import move_to
from service.errors import Conflict, Forbidden, NotFound
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role

# What counts as the responder's current call: one it took (an offer is not yet theirs).
_ON_CALL = (AssignmentState.accepted, AssignmentState.en_route, AssignmentState.on_scene)
_NOWHERE = "no position known and on no call: backup is sent once a position comes"


@dataclass(frozen=True, slots=True)
class Raised:
    emergency: EmergencyPublic
    created: bool  # False: one was open already, and this is it


def raise_emergency(
    tx: Tx,
    *,
    principal: Principal,
    responder_id: uuid.UUID,
    body: EmergencyRaise,
    config: DispatchConfig,
) -> Raised:
    """Raise an emergency for the responder (its own token, or staff for it); while one is
    open, answer that one and change nothing."""
    responder = tx.session.get(Responder, responder_id)
    if responder is None or responder.agency_id != principal.agency_id:
        raise NotFound(f"no responder {responder_id} in this agency")
    if principal.role == Role.responder:
        if principal.responder_id != responder_id:
            raise Forbidden("a responder token raises an emergency only for its own responder")
    else:
        require_role(principal, STAFF, "raise an emergency for a responder")
    agency = tx.session.get(Agency, principal.agency_id)
    assert agency is not None
    if (open_one := open_of(tx, responder_id)) is not None:
        return Raised(public_of(open_one, responder, agency), created=False)
    if body.lat is not None and body.lon is not None:
        move_to(tx, responder, body.lat, body.lon)
    _stand_aside(tx, responder)
    call, call_made, backup = send_backup(tx, responder=responder, agency=agency, config=config)
    emergency = Emergency(
        agency_id=principal.agency_id,
        responder_id=responder_id,
        call_id=call.id if call is not None else None,
        call_made=call_made,
        note=body.note,
        lat=responder.lat,
        lon=responder.lon,
        position_at=responder.position_at,
        backup=[str(a) for a in backup.offered],
        backup_wanted=agency.emergency_backup_count,
        backup_missing=backup.missing,
        raised_at=tx.now,
        raised_by=who(tx, principal),
    )
    tx.session.add(emergency)
    try:
        tx.session.flush()
    except IntegrityError:
        # Writes take turns (one writer a process, PostgreSQL's advisory lock across
        # replicas), so the read above saw any open one; this is the database's own word.
        raise Conflict("an emergency for this responder was raised at the same moment") from None
    public = public_of(emergency, responder, agency)
    tx.record(
        "responder.emergency",
        agency_id=principal.agency_id,
        responder_id=responder_id,
        call_id=emergency.call_id,
        data={"emergency": public.model_dump(mode="json")},
    )
    tx.record(
        "emergency.position_wanted",
        agency_id=principal.agency_id,
        responder_id=responder_id,
        data={
            "emergency_id": str(emergency.id),
            "interval_s": agency.emergency_position_interval_s,
        },
    )
    return Raised(public, created=True)


def send_backup(
    tx: Tx, *, responder: Responder, agency: Agency, config: DispatchConfig
) -> tuple[Call | None, bool, Backup]:
    """Backup for the responder: on its call, or on an emergency call made at its
    position (True: made); none without either (`top_up` tries again once a position
    comes)."""
    near = (
        (responder.lat, responder.lon)
        if responder.lat is not None and responder.lon is not None
        else None
    )
    call = _current_call(tx, responder.id)
    count = agency.emergency_backup_count
    roles = backup_roles(tx, call, count) if call is not None else backup_names(count)
    call_made = call is None and near is not None
    if call is None and near is not None:
        call = make_emergency_call(
            tx,
            responder=responder,
            at=near,
            roles=roles,
            programme_version=agency.programme_version,
        )
    if call is None:
        return None, False, Backup(offered=[], missing=_NOWHERE)
    backup = offer_backup(
        tx,
        call=call,
        roles=roles,
        near=near or (call.lat, call.lon),
        raiser_id=responder.id,
        offer_timeout_s=agency.offer_timeout_s,
        config=config,
    )
    return call, call_made, backup


def _stand_aside(tx: Tx, responder: Responder) -> None:
    """A responder in trouble and free is offered no call meanwhile: out of service until
    they (or staff) set themselves available again."""
    if stand_aside(
        tx, agency_id=responder.agency_id, responder_id=responder.id, reason="emergency raised"
    ):
        tx.loaded_now(
            Responder,
            responder.id,
            held=responder,
            status=ResponderStatus.out_of_service,
            status_changed_at=tx.now,
        )


def _current_call(tx: Tx, responder_id: uuid.UUID) -> Call | None:
    call_id = tx.session.execute(
        select(col(Assignment.call_id))
        .where(
            col(Assignment.responder_id) == responder_id,
            col(Assignment.state).in_(_ON_CALL),
        )
        .limit(1)
    ).scalar_one_or_none()
    return tx.session.get(Call, call_id) if call_id is not None else None
