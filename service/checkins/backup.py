"""The `backup` rule: the nearest available CIT officer offered a seat on the call."""

import uuid

from dispatch.config import DispatchConfig
from dispatch.plan import RoleNeed
from models.call import Call
from models.vocabulary import CallStatus, OfferPurpose, ResponderKind
from service.agencies.operations import offer_timeout_of
from service.dispatching.offers import backup_roles, offer_role
from service.store.transaction import Tx


def offer_backup(tx: Tx, *, call_id: uuid.UUID, config: DispatchConfig) -> list[uuid.UUID]:
    """Offer the nearest available CIT officer a backup seat on the call, as an ordinary
    `assignment.offered`; the assignment ids offered (none if no CIT officer is free, or
    the call is over). A backup that declines or lets the offer expire is not replaced:
    the seat is not in the call's plan, and the alarm is still on the dispatchers'
    screens."""
    call = tx.session.get(Call, call_id)
    if call is None or call.status in (CallStatus.closed, CallStatus.cancelled):
        return []
    need = RoleNeed(
        role=backup_roles(tx, call, 1)[0],
        kind=ResponderKind.officer.value,
        cit_required=True,
        prefer_language=False,
    )
    offered = offer_role(
        tx,
        call=call,
        need=need,
        config=config,
        offer_timeout_s=offer_timeout_of(tx, call.agency_id),
        purpose=OfferPurpose.checkin_backup,
    )
    return [] if offered is None else [offered.id]
