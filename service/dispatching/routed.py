"""Road travel for a call's seats, asked before the write transaction begins.

With a road engine configured, the intake first ranks each seat's candidates by
road travel time in a read transaction (`route_seats`), so that a slow routing
server never holds the write lock. The write then offers each seat to the best of
that ranking it can still reserve (`offers.offer_role`); whoever was taken in
between is passed over, as a reservation lost to another replica is. When routing
fails (the server down or too slow, the call off the network), the seats are chosen
by the straight-line estimate in the write, as without an engine, and the plan says
so. A decline, the offers' expiry and the fallbacks route the same way before their
writes (`route_reoffers`, and the timers' preparations), as do a team replaced by a
call's update (`calls.by_road.route_update`) and the waiting queue, matched by a
timer of its own (`waiting.route_waiting`). A call's language speakers are fetched
apart (`offers.speaking_in`: the same ring query, filtered by the language).
"""

import time
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlmodel import col

from dispatch.by_road import rank_by_road
from dispatch.config import DispatchConfig
from dispatch.plan import RoleNeed
from dispatch.ranking import CallSite, Choice
from dispatch.road_reason import road_choice_reason
from dispatch.roads import RoadTimes, RoutingUnavailable
from models.agency import Principal
from models.call import Assignment, Call
from models.responder import Responder
from models.vocabulary import AssignmentState, CallStatus, ResponderStatus
from service.dispatching.offers import (
    available_in,
    needs_of,
    site_of,
    speaking_in,
    tried_for,
)
from service.store.transaction import Tx
from service.trust.access import STAFF

log = structlog.get_logger(__name__)

# The best of each seat's ranking is kept. Taken by another call in between (rare: the
# read and the write are a few milliseconds apart), the write chooses that seat in a
# straight line. Each spare kept would cost the search more candidates to route: k=1
# is what bench/road_decision.py measures.
KEEP = 1

# A timer's preparation also ranks what falls due this soon: its write's clock is a
# little later than the read's (a tick is 1 s by default).
PREPARE_AHEAD = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Routed:
    """Each seat's candidates by road, best first, and what to say about them."""

    travel_by: str  # the engine's name, as each assignment records it
    by_role: dict[str, list[Choice]] = field(default_factory=dict)
    said: dict[str, str] = field(default_factory=dict)  # role → "chose … over …"
    unavailable: str | None = None  # why this call is ranked in a straight line instead

    def reason(self) -> str:
        """What the plan's reason adds when the road could not be asked."""
        if self.unavailable is None:
            return ""
        return f"road travel unavailable ({self.unavailable}): ranked in a straight line"

    def travel(self, tx: Tx) -> str | None:
        """Each seat where the road changed the choice, said only where that choice is
        still free in this write (so the one named is the one offered)."""
        firsts = {role: chosen[0].candidate.id for role, chosen in self.by_role.items() if chosen}
        wanted = [firsts[role] for role in self.said if role in firsts]
        if not wanted:
            return None
        free = set(
            tx.session.execute(
                select(col(Responder.id)).where(
                    col(Responder.id).in_(wanted),
                    col(Responder.status) == ResponderStatus.available,
                )
            ).scalars()
        )
        said = [f"{role}: {s}" for role, s in self.said.items() if firsts.get(role) in free]
        return "; ".join(said) or None


def by_road_for(routed: Routed | None, role: str) -> dict[str, Any]:
    """What `offers.offer_role` takes of `routed` for `role`: nothing when no road was
    asked or it could not answer (the write then ranks in a straight line)."""
    if routed is None or routed.unavailable is not None:
        return {}
    return {"by_road": routed.by_role.get(role, ()), "travel_by": routed.travel_by}


def route_seats(
    tx: Tx,
    *,
    agency_id: uuid.UUID,
    site: CallSite,
    needs: Sequence[RoleNeed],
    roads: RoadTimes,
    config: DispatchConfig,
    exclude: frozenset[Hashable] = frozenset(),
    deadline: float | None = None,
) -> Routed:
    """Rank each seat's available candidates by road (a read; nothing is reserved),
    leaving out `exclude` (those already tried for the seat). Routing gives up, and the
    call is ranked in a straight line, once `deadline` (a `time.perf_counter()`; by
    default the configured timeout from now) has passed between seats: with an
    engine's own timeout on each query, a dispatch waits at most about twice it."""
    started = time.perf_counter()
    deadline = started + config.routing_timeout_s if deadline is None else deadline
    routed = Routed(travel_by=roads.name)
    crows: dict[str, Choice] = {}
    try:
        for need in needs:
            if time.perf_counter() > deadline:
                raise RoutingUnavailable(
                    f"routing took longer than {config.routing_timeout_s * 1000:.0f} ms"
                )
            taken = exclude | frozenset(
                c.candidate.id for chosen in routed.by_role.values() for c in chosen[:1]
            )
            ranking = rank_by_road(
                site,
                need,
                k=KEEP,
                fetch=available_in(tx, agency_id=agency_id, kind=need.kind),
                fetch_speaking=speaking_in(tx, agency_id=agency_id, kind=need.kind),
                roads=roads,
                fallback=config.estimator,
                prefs=config.prefs,
                exclude=taken,  # a second seat of a kind: the first seat's choice is taken
            )
            routed.by_role[need.role] = ranking.choices
            if ranking.choices and ranking.crow_nearest is not None:
                crows[need.role] = ranking.crow_nearest
    except RoutingUnavailable as why:
        config.routing_failed(str(why))
        log.warning("routing failed: ranked in a straight line", why=str(why), engine=roads.name)
        return Routed(travel_by=roads.name, unavailable=str(why))
    except Exception as broken:  # a fault in the engine must never cost a call its offers
        said = f"the road engine failed ({type(broken).__name__})"
        config.routing_failed(said)
        log.exception("routing failed: ranked in a straight line", engine=roads.name)
        return Routed(travel_by=roads.name, unavailable=said)
    finally:
        config.observe_routing(time.perf_counter() - started)
    names = _names(tx, [c.candidate.id for c in (*crows.values(), *_firsts(routed))])
    for role, crow in crows.items():
        sentence = road_choice_reason(routed.by_role[role][0], crow, lambda i: names.get(i, str(i)))
        if sentence is not None:
            routed.said[role] = sentence
    return routed


def _firsts(routed: Routed) -> list[Choice]:
    return [chosen[0] for chosen in routed.by_role.values() if chosen]


def _names(tx: Tx, ids: list[Hashable]) -> dict[Hashable, str]:
    if not ids:
        return {}
    rows = tx.session.execute(
        select(col(Responder.id), col(Responder.name), col(Responder.external_id)).where(
            col(Responder.id).in_(ids)
        )
    )
    return {
        row.id: f"{row.name} ({row.external_id})" if row.external_id else row.name for row in rows
    }


def route_reoffers(
    tx: Tx, *, assignments: Sequence[Assignment], roads: RoadTimes, config: DispatchConfig
) -> dict[uuid.UUID, Routed]:
    """Before a decline's or an expiry's write: each offer's seat on its call, ranked
    by road among those not yet tried for it. Keyed by the assignment. The whole batch
    shares one timeout; the offers it leaves unrouted are ranked in a straight line."""
    routed: dict[uuid.UUID, Routed] = {}
    deadline = time.perf_counter() + config.routing_timeout_s
    for assignment in assignments:
        if time.perf_counter() > deadline:
            break
        call = tx.session.get(Call, assignment.call_id)
        if call is None or call.status not in (CallStatus.pending, CallStatus.dispatched):
            continue
        need = next((n for n in needs_of(call) if n.role == assignment.role), None)
        if need is None:  # the call's team changed meanwhile
            continue
        tried = tried_for(tx, call_id=call.id, role=need.role)
        routed[assignment.id] = route_seats(
            tx,
            agency_id=call.agency_id,
            site=site_of(call),
            needs=[need],
            roads=roads,
            config=config,
            exclude=frozenset(tried),
            deadline=deadline,
        )
    return routed


def route_decline(
    tx: Tx,
    *,
    principal: Principal,
    assignment_id: uuid.UUID,
    roads: RoadTimes,
    config: DispatchConfig,
) -> dict[uuid.UUID, Routed]:
    """`route_reoffers` for one offer about to be declined, if `principal` may decline
    it (the write checks again and answers for a refusal; this only routes nothing)."""
    assignment = tx.session.get(Assignment, assignment_id)
    if (
        assignment is None
        or assignment.state != AssignmentState.offered
        or assignment.agency_id != principal.agency_id
        or not (principal.role in STAFF or principal.responder_id == assignment.responder_id)
    ):
        return {}
    return route_reoffers(tx, assignments=[assignment], roads=roads, config=config)
