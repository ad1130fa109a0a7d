"""Re-planning waiting calls when responders free up."""

import uuid
from collections.abc import Hashable

from sqlalchemy import bindparam, select
from sqlmodel import col

from dispatch.config import DispatchConfig
from dispatch.ranking import Fetch
from dispatch.waiting import WaitingNeed, assign_waiting
from models.call import Call
from models.vocabulary import CallStatus
from service.agencies.operations import offer_timeout_of
from service.dispatching.call_status import missing_roles, update_call_status
from service.dispatching.offers import (
    all_available,
    make_offer,
    needs_of,
    site_of,
    tried_for,
)
from service.store.prepared import Prepared
from service.store.transaction import Tx

# The most urgent, oldest calls considered in one re-plan; more wait for the next.
MAX_WAITING = 50


_WAITING = (
    select(Call)
    .where(col(Call.agency_id) == bindparam("agency_id"), col(Call.status) == CallStatus.pending)
    .order_by(col(Call.priority), col(Call.received_at))
    .limit(MAX_WAITING)
)


_ANY_WAITING = Prepared(
    select(col(Call.id))
    .where(col(Call.agency_id) == bindparam("agency_id"), col(Call.status) == CallStatus.pending)
    .limit(1)
)


def replan_waiting(tx: Tx, *, agency_id: uuid.UUID, config: DispatchConfig) -> int:
    """Offer the agency's free responders to its waiting calls, all at once.

    Called whenever a responder becomes available (set available, cleared,
    declined, expired, cancelled). Returns how many offers it made.
    """
    if tx.run(_ANY_WAITING, {"agency_id": agency_id}).first() is None:
        return 0  # most of the time: the waiting calls' whole rows only when there are some
    calls = list(tx.session.execute(_WAITING, {"agency_id": agency_id}).scalars())
    by_key: dict[Hashable, Call] = {}
    waiting: list[WaitingNeed] = []
    for call in calls:
        missing = set(missing_roles(tx, call))
        for need in needs_of(call):
            if need.role not in missing:
                continue
            by_key[(call.id, need.role)] = call
            waiting.append(
                WaitingNeed(
                    key=(call.id, need.role),
                    site=site_of(call),
                    need=need,
                    priority=call.priority,
                    received_at=call.received_at,
                    exclude=frozenset(tried_for(tx, call_id=call.id, role=need.role)),
                )
            )

    # Calls wait because few are free: read those once, not a ring query per call.
    fetches: dict[str, Fetch] = {}

    def fetch_for(kind: str) -> Fetch:
        if kind not in fetches:
            fetches[kind] = all_available(tx, agency_id=agency_id, kind=kind)
        return fetches[kind]

    offer_timeout_s = offer_timeout_of(tx, agency_id)
    made = 0
    chosen = assign_waiting(
        waiting, fetch_for=fetch_for, estimator=config.estimator, prefs=config.prefs
    )
    for role, choice in chosen:
        call = by_key[role.key]
        offer = make_offer(
            tx,
            call=call,
            role=role.need.role,
            choice=choice,
            offer_timeout_s=offer_timeout_s,
        )
        if offer is not None:
            made += 1
            update_call_status(tx, call)
    return made
