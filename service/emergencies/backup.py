"""Backup for a responder in an emergency: the nearest available CIT officers, offered
in the raising transaction, on the responder's call or on an emergency call made at
their position.

Offered in the write that raises the emergency, each officer is reserved (`offered`)
before any later write can see them free: no waiting call can take them first. The
offers are ordinary `assignment.offered` events in roles `backup`, `backup_2`, …
"""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from dispatch.config import DispatchConfig
from dispatch.plan import RoleNeed
from dispatch.ranking import CallSite, choose_responder
from models.call import Call
from models.emergency import EMERGENCY_RULE, EMERGENCY_TEAM
from models.responder import Responder
from models.vocabulary import CallStatus, Category, OfferPurpose
from service.dispatching.call_status import update_call_status
from service.dispatching.offers import available_in, call_summary, make_offer
from service.store.prepared import inserting, transient
from service.store.transaction import Tx

# A reservation can lose a race to another replica; try the next nearest this often.
_RESERVE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Backup:
    """The offers made (assignment ids), and why fewer than wanted, if so."""

    offered: list[uuid.UUID]
    missing: str | None


def backup_seats(roles: Sequence[str]) -> list[dict[str, Any]]:
    """The roles as a call's plan stores its seats: a CIT officer each."""
    return [
        {
            "role": role,
            "kind": "officer",
            "cit_required": True,
            "preferred_skills": [],
            "prefer_language": False,
        }
        for role in roles
    ]


def offer_backup(
    tx: Tx,
    *,
    call: Call,
    roles: Sequence[str],
    near: tuple[float, float],
    raiser_id: uuid.UUID,
    offer_timeout_s: int,
    config: DispatchConfig,
    tried: Collection[uuid.UUID] = (),
) -> Backup:
    """Offer each of `roles` on `call` to the nearest available CIT officer to `near` (the
    responder's position), never the responder in trouble nor one `tried` already;
    stops at the first role nobody is left for. A call that has ended gets none: an
    officer who took it could never clear it."""
    if call.status not in (CallStatus.pending, CallStatus.dispatched):
        return Backup(offered=[], missing=f"the call is {call.status.value}: no backup sent to it")
    site = CallSite(lat=near[0], lon=near[1], on=call.received_at.date())
    fetch = available_in(tx, agency_id=call.agency_id, kind="officer")
    exclude: set[uuid.UUID] = {raiser_id, *tried}
    offered: list[uuid.UUID] = []
    for role in roles:
        need = RoleNeed(role=role, kind="officer", cit_required=True, prefer_language=False)
        made = None
        for _ in range(_RESERVE_ATTEMPTS):
            choice = choose_responder(
                site,
                need,
                fetch=fetch,
                estimator=config.estimator,
                prefs=config.prefs,
                exclude=frozenset(exclude),
            )
            if choice is None:
                break
            assert isinstance(choice.candidate.id, uuid.UUID)
            exclude.add(choice.candidate.id)
            made = make_offer(
                tx,
                call=call,
                role=role,
                choice=choice,
                offer_timeout_s=offer_timeout_s,
                purpose=OfferPurpose.emergency_backup,
            )
            if made is not None:
                break
        if made is None:
            break
        offered.append(made.id)
    update_call_status(tx, call)
    missing = None
    if len(offered) < len(roles):
        missing = f"no CIT officer available: {len(offered)} of {len(roles)} backup offered"
    return Backup(offered=offered, missing=missing)


_INSERT_CALL, _call_values = inserting(Call)


def make_emergency_call(
    tx: Tx,
    *,
    responder: Responder,
    at: tuple[float, float],
    roles: Sequence[str],
    programme_version: int,
) -> Call:
    """A priority-1 call at the responder's position whose team is their backup: the
    responder was on no call. Its category is `welfare_check` (the welfare of one of
    our own; not a category that says anything about a person in crisis), and its
    seats wait for CIT officers like any waiting call's, most urgent first."""
    who = f"{responder.name} ({responder.external_id})" if responder.external_id else responder.name
    call = transient(
        Call,
        {
            "agency_id": responder.agency_id,
            "lat": at[0],
            "lon": at[1],
            "category": Category.welfare_check,
            "priority": 1,
            "status": CallStatus.pending,
            "programme_version": programme_version,
            "plan_rule": EMERGENCY_RULE,
            "plan_team": EMERGENCY_TEAM,
            "plan_reason": f"{who} raised an emergency on no call: the nearest available "
            "CIT officers as backup, at their last position",
            "plan_roles": backup_seats(roles),
            "received_at": tx.now,
        },
    )
    tx.run(_INSERT_CALL, _call_values(call))  # prepared: not through the session
    tx.record("call.created", agency_id=call.agency_id, call_id=call.id, data=call_summary(call))
    return call
