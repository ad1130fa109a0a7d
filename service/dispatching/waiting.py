"""Re-planning waiting calls when responders free up.

Without a road engine, the write that frees a responder offers it to the waiting
calls at once, matched in a straight line. With one, routing must not hold the
write lock, and that write cannot be routed before it (the responder is not yet
free), so the waiting calls are matched by a timer of their own: a read ranks every
waiting role by road and matches them all at once (`route_waiting`), and a write
offers each to its match if still free (`replan_when_due`), within a tick
(`CORESPOND_TIMER_INTERVAL_S`) of a responder freeing up.
"""

import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import structlog
from sqlalchemy import bindparam, select
from sqlmodel import col

from dispatch.by_road import rank_by_road
from dispatch.config import DispatchConfig
from dispatch.ranking import Choice, Fetch
from dispatch.roads import RoadTimes, RoutingUnavailable
from dispatch.waiting import Rank, WaitingNeed, assign_waiting
from models.call import Call
from models.emergency import EMERGENCY_RULE
from models.vocabulary import CallStatus
from service.agencies.operations import offer_timeout_of
from service.dispatching.call_status import missing_roles, update_call_status
from service.dispatching.offers import (
    all_available,
    make_offer,
    needs_of,
    offer_role,
    seat_purpose,
    site_of,
    tried_for,
)
from service.store.prepared import Prepared
from service.store.transaction import Tx

log = structlog.get_logger(__name__)

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
    declined, expired, cancelled). Returns how many offers it made. With a road
    engine it makes none: the waiting timer ranks by road before its own write
    (`route_waiting`, `replan_when_due`), within a tick.
    """
    if config.roads is not None:
        return 0
    return _replan(tx, agency_id=agency_id, config=config)


def _replan(
    tx: Tx, *, agency_id: uuid.UUID, config: DispatchConfig, routed: "RoutedWaiting | None" = None
) -> int:
    """Offer the agency's waiting roles: those `routed` chose by road, each to its choice
    if still free (else the best in a straight line); without `routed`, all of them
    chosen now in a straight line."""
    if tx.run(_ANY_WAITING, {"agency_id": agency_id}).first() is None:
        return 0  # most of the time: the waiting calls' whole rows only when there are some
    by_key, waiting = _waiting_needs(tx, agency_id)
    offer_timeout_s = offer_timeout_of(tx, agency_id)
    made = 0
    if routed is not None:
        needs = {w.key: w.need for w in waiting}
        for key, choice in routed.chosen:
            call, need = by_key.get(key), needs.get(key)
            if call is None or need is None:  # served, cancelled or re-planned meanwhile
                continue
            offer = offer_role(
                tx,
                call=call,
                need=need,
                config=config,
                offer_timeout_s=offer_timeout_s,
                by_road=[choice],
                travel_by=routed.travel_by,
            )
            if offer is not None:
                made += 1
                update_call_status(tx, call)
        return made

    # Calls wait because few are free: read those once, not a ring query per call.
    fetch_for = _fetches(tx, agency_id)
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
            purpose=seat_purpose(call),
        )
        if offer is not None:
            made += 1
            update_call_status(tx, call)
    return made


def _waiting_needs(tx: Tx, agency_id: uuid.UUID) -> tuple[dict[Hashable, Call], list[WaitingNeed]]:
    """The agency's most urgent, oldest waiting calls' missing roles, keyed (call, role)."""
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
                    # A responder's emergency goes ahead of every other call.
                    priority=0 if call.plan_rule == EMERGENCY_RULE else call.priority,
                    received_at=call.received_at,
                    exclude=frozenset(tried_for(tx, call_id=call.id, role=need.role)),
                )
            )
    return by_key, waiting


def _fetches(tx: Tx, agency_id: uuid.UUID) -> Callable[[str], Fetch]:
    """Each kind's free responders, read once when first asked for."""
    fetches: dict[str, Fetch] = {}

    def fetch_for(kind: str) -> Fetch:
        if kind not in fetches:
            fetches[kind] = all_available(tx, agency_id=agency_id, kind=kind)
        return fetches[kind]

    return fetch_for


@dataclass(frozen=True, slots=True)
class RoutedWaiting:
    """An agency's waiting roles matched by road before the write: (call id, role) to
    the choice, made by the engine named `travel_by`."""

    travel_by: str
    chosen: list[tuple[Hashable, Choice]]


_WAITING_AGENCIES = select(col(Call.agency_id)).where(col(Call.status) == CallStatus.pending)


def _agencies_waiting(tx: Tx, limit: int) -> list[uuid.UUID]:
    return list(tx.session.execute(_WAITING_AGENCIES.distinct().limit(limit)).scalars())


def route_waiting(
    tx: Tx, *, limit: int, roads: RoadTimes, config: DispatchConfig
) -> dict[uuid.UUID, RoutedWaiting | None]:
    """The waiting timer's read: each agency's waiting roles matched to its free
    responders by road (`assign_waiting`, ranked by `rank_by_road`), keyed by agency;
    None for an agency whose routing failed or ran out of time (the write then
    matches it in a straight line). Nothing is reserved here."""
    deadline = time.perf_counter() + config.routing_timeout_s
    prepared: dict[uuid.UUID, RoutedWaiting | None] = {}
    for agency_id in _agencies_waiting(tx, limit):
        _, waiting = _waiting_needs(tx, agency_id)
        if not waiting:
            continue
        fetch_for = _fetches(tx, agency_id)

        started = time.perf_counter()
        try:
            chosen = assign_waiting(
                waiting,
                fetch_for=fetch_for,
                estimator=config.estimator,
                prefs=config.prefs,
                rank=_by_road(fetch_for, roads, config, deadline),
            )
        except Exception as failed:  # down, slow or broken: matched in a straight line
            said = (
                str(failed)
                if isinstance(failed, RoutingUnavailable)
                else f"the road engine failed ({type(failed).__name__})"
            )
            config.routing_failed(said)
            log.warning(
                "routing failed: waiting calls matched in a straight line",
                why=said,
                engine=roads.name,
            )
            prepared[agency_id] = None
            continue
        finally:
            config.observe_routing(time.perf_counter() - started)
        prepared[agency_id] = RoutedWaiting(
            travel_by=roads.name, chosen=[(w.key, choice) for w, choice in chosen]
        )
    return prepared


def _by_road(
    fetch_for: Callable[[str], Fetch], roads: RoadTimes, config: DispatchConfig, deadline: float
) -> Rank:
    """`assign_waiting`'s ranking by road, giving up once `deadline` has passed."""

    def rank(w: WaitingNeed, k: int, exclude: frozenset[Hashable]) -> list[Choice]:
        if time.perf_counter() > deadline:
            raise RoutingUnavailable(
                f"routing took longer than {config.routing_timeout_s * 1000:.0f} ms"
            )
        return rank_by_road(
            w.site,
            w.need,
            k=k,
            fetch=fetch_for(w.need.kind),
            roads=roads,
            fallback=config.estimator,
            prefs=config.prefs,
            exclude=exclude,
        ).choices

    return rank


def replan_when_due(
    tx: Tx,
    *,
    limit: int,
    config: DispatchConfig,
    prepared: dict[uuid.UUID, RoutedWaiting | None] | None = None,
) -> int:
    """The waiting timer's write (with a road engine): offer what `route_waiting` matched
    by road; an agency it could not route (or, without its read, every agency with
    waiting calls) is matched in a straight line. Returns the offers made."""
    if prepared is None:
        prepared = dict.fromkeys(_agencies_waiting(tx, limit))
    return sum(
        _replan(tx, agency_id=agency_id, config=config, routed=routed)
        for agency_id, routed in prepared.items()
    )
