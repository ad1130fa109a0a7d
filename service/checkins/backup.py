"""The `backup` rule: the nearest available CIT officer offered a seat on the call."""

import uuid

from sqlalchemy import select
from sqlmodel import col

from dispatch.config import DispatchConfig
from dispatch.plan import RoleNeed
from models.call import Assignment, Call
from models.vocabulary import ACTIVE_ASSIGNMENT_STATES, CallStatus, ResponderKind
from service.agencies.operations import offer_timeout_of
from service.dispatching.offers import offer_role
from service.store.transaction import Tx


def backup_role(tx: Tx, call_id: uuid.UUID) -> str:
    """The call's first backup seat with no active assignment: `backup`, `backup_2`, …
    (an emergency on the same call may hold `backup` already)."""
    taken = set(
        tx.session.execute(
            select(col(Assignment.role)).where(
                col(Assignment.call_id) == call_id,
                col(Assignment.state).in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
            )
        ).scalars()
    )
    n = 1
    while (role := "backup" if n == 1 else f"backup_{n}") in taken:
        n += 1
    return role


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
        role=backup_role(tx, call_id),
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
    )
    return [] if offered is None else [offered.id]
