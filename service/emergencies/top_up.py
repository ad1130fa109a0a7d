"""Backup kept up while an emergency is open, on the responder's own call: an offer
declined or lapsed is made to the next nearest CIT officer, and one nobody was free
for is made once someone is; none once that call has ended. (On an emergency call made
for it, the backup roles are the call's seats, and its offers and waiting go as any
call's.) One raised on no call with no position known gets its backup once the
responder's first position comes. Each change is an `emergency.updated` event, to staff
and the responder.

A timer's work (`live.timers.pass_deadlines_forever`): writes take turns, so of
several replicas running it one tops an emergency up at a time, and the next sees
what it did.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import col

from dispatch.config import DispatchConfig
from models.agency import Agency
from models.call import Assignment, Call
from models.emergency import Emergency
from models.responder import Responder
from models.vocabulary import ACTIVE_ASSIGNMENT_STATES, AssignmentState, CallStatus
from service.dispatching.offers import backup_roles
from service.emergencies.backup import offer_backup
from service.emergencies.operations import public_of
from service.emergencies.raising import send_backup
from service.store.prepared import Prepared
from service.store.transaction import Tx

_OPEN_ON_A_CALL = Prepared(
    select(col(Emergency.id))
    .where(col(Emergency.closed_at).is_(None), col(Emergency.call_made).is_(False))
    .order_by(col(Emergency.raised_at))
    .limit(bindparam("limit"))
)

# What still stands of an offer made: answered yes, or not yet answered.
_STANDING = frozenset({*ACTIVE_ASSIGNMENT_STATES, AssignmentState.cleared})


def top_up_backup(
    tx: Tx, *, limit: int, config: DispatchConfig, prepared: Mapping[str, Any] | None = None
) -> int:
    """Offer backup again for open emergencies on a responder's call with fewer standing
    offers than the agency wants; how many emergencies got a new offer."""
    del prepared  # nothing is read before this write
    # Every second on every replica, almost always with nothing open: the look is a
    # statement built once (building it each tick cost the offers' writes their turn).
    ids = [row.id for row in tx.run(_OPEN_ON_A_CALL, {"limit": limit})]
    if not ids:
        return 0
    topped = 0
    for emergency_id in ids:
        emergency = tx.session.get(Emergency, emergency_id)
        if emergency is not None and _top_up(tx, emergency, config):
            topped += 1
    return topped


def _top_up(tx: Tx, emergency: Emergency, config: DispatchConfig) -> bool:
    responder = tx.session.get(Responder, emergency.responder_id)
    agency = tx.session.get(Agency, emergency.agency_id)
    assert responder is not None and agency is not None
    if emergency.call_id is None:
        return _first_backup(tx, emergency, responder, agency, config)
    call = tx.session.get(Call, emergency.call_id)
    if call is None or call.status not in (CallStatus.pending, CallStatus.dispatched):
        return False  # the call ended: backup goes to no call
    offered = [uuid.UUID(a) for a in emergency.backup]
    states = dict(
        tx.session.execute(
            select(col(Assignment.responder_id), col(Assignment.state)).where(
                col(Assignment.id).in_(offered)
            )
        ).all()
    )
    standing = sum(1 for state in states.values() if state in _STANDING)
    missing = emergency.backup_wanted - standing
    if missing <= 0:
        return False
    near = (
        (responder.lat, responder.lon)
        if responder.lat is not None and responder.lon is not None
        else (call.lat, call.lon)
    )
    backup = offer_backup(
        tx,
        call=call,
        roles=backup_roles(tx, call, missing),
        near=near,
        raiser_id=responder.id,
        offer_timeout_s=agency.offer_timeout_s,
        config=config,
        tried=states.keys(),
    )
    if not backup.offered:
        return False
    emergency.backup = [*emergency.backup, *(str(a) for a in backup.offered)]
    emergency.backup_missing = backup.missing
    _updated(tx, emergency, responder, agency)
    return True


def _first_backup(
    tx: Tx, emergency: Emergency, responder: Responder, agency: Agency, config: DispatchConfig
) -> bool:
    """Raised on no call with no position known, nothing could be sent: once the
    responder's first position comes, the backup raising would have sent (an emergency
    call at that position, or backup on a call they took meanwhile)."""
    if responder.lat is None or responder.lon is None:
        return False
    call, call_made, backup = send_backup(tx, responder=responder, agency=agency, config=config)
    if call is None:
        return False
    emergency.call_id, emergency.call_made = call.id, call_made
    emergency.lat, emergency.lon, emergency.position_at = (
        responder.lat,
        responder.lon,
        responder.position_at,
    )
    emergency.backup = [str(a) for a in backup.offered]
    emergency.backup_missing = backup.missing
    _updated(tx, emergency, responder, agency)
    return True


def _updated(tx: Tx, emergency: Emergency, responder: Responder, agency: Agency) -> None:
    """Tell staff and the responder what the emergency's backup is now."""
    tx.session.flush()
    tx.record(
        "emergency.updated",
        agency_id=emergency.agency_id,
        responder_id=emergency.responder_id,
        call_id=emergency.call_id,
        data={"emergency": public_of(emergency, responder, agency).model_dump(mode="json")},
    )
