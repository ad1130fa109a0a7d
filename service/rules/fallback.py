"""Fallbacks: a team replaced by the next of its rule's fallbacks, when its deadline
passes with a seat unfilled (run by the timers, as offers' expiry is), or at once when
a seat's kind has nobody on duty (at intake, `planning.plan_for`). A call updated to
another rule gets that rule's team the same way (`rules.reclassify`).

Who stays: a responder already on a seat of the old team keeps a seat of the new one
of its kind (a CIT seat only with a certification valid on the call's day), under the
new seat's role; the others are stood down, their offers and assignments cancelled
with the reason and their responders freed for the waiting calls.
"""

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import col

from dispatch.config import DispatchConfig
from dispatch.plan import RoleNeed
from dispatch.roads import RoadTimes
from models.call import Assignment, AssignmentPublic, Call, call_date
from models.programme import POLICE
from models.responder import Responder
from models.rules import UnservedReason
from models.vocabulary import AssignmentState, CallStatus
from service.dispatching.call_status import active_assignments, update_call_status
from service.dispatching.offers import call_summary, needs_from, offer_role, site_of
from service.dispatching.routed import PREPARE_AHEAD, Routed, by_road_for, route_seats
from service.dispatching.transitions import move
from service.dispatching.waiting import replan_waiting
from service.errors import Conflict
from service.rules.ledger import record_unserved
from service.rules.programmes import InForce, in_force
from service.store.prepared import Prepared
from service.store.transaction import Tx

# A seat is filled once someone has accepted it (and while they serve, or once cleared);
# an offer still standing is not a filled seat.
FILLED = frozenset(
    {
        AssignmentState.accepted,
        AssignmentState.en_route,
        AssignmentState.on_scene,
        AssignmentState.cleared,
    }
)

_DUE = (
    select(Call)
    .where(
        col(Call.plan_fallback_at) <= bindparam("now"),
        col(Call.status).in_([CallStatus.pending, CallStatus.dispatched]),
    )
    .order_by(col(Call.plan_fallback_at))
    .limit(bindparam("limit"))
)
_CLAIM = Prepared(
    update(Call)
    .where(col(Call.id) == bindparam("b_id"), col(Call.plan_fallback_at) == bindparam("b_due"))
    .values(plan_fallback_at=None)
)
_STATES = Prepared(
    select(col(Assignment.role), col(Assignment.state), col(Assignment.team)).where(
        col(Assignment.call_id) == bindparam("call_id")
    )
)


def route_due_fallbacks(
    tx: Tx, *, limit: int, roads: RoadTimes, config: DispatchConfig
) -> dict[uuid.UUID, Routed]:
    """Before the fallbacks' write: the next team's seats of each call due, ranked by
    road (keyed by the call). A seat someone keeps is ranked for nothing: cheap waste."""
    routed: dict[uuid.UUID, Routed] = {}
    deadline = time.perf_counter() + config.routing_timeout_s  # for the whole batch
    soon = tx.now + PREPARE_AHEAD  # the write's clock is a little later than this read's
    for call in tx.session.execute(_DUE, {"now": soon, "limit": limit}).scalars():
        if time.perf_counter() > deadline:
            break
        if call.plan_fallback and call.plan_fallback[0]["team"] != POLICE:
            needs = needs_from(call.plan_fallback[0]["roles"])
            routed[call.id] = route_seats(
                tx,
                agency_id=call.agency_id,
                site=site_of(call),
                needs=needs,
                roads=roads,
                config=config,
                deadline=deadline,
            )
    return routed


def fall_back_when_due(
    tx: Tx,
    *,
    config: DispatchConfig,
    limit: int,
    prepared: Mapping[uuid.UUID, Routed] | None = None,
    referred: Callable[[Tx, Call], None] | None = None,
) -> int:
    """Every call whose fallback deadline has passed with a seat unfilled gets the next
    team of its rule (its seats offered by road where `route_due_fallbacks` ranked them
    before this write). Of several replicas, the conditional update lets one act on each
    call. A call whose seats are all filled by then keeps its team. A call the fallback
    referred to police is given to `referred` in the same write (its close record, which
    the app's `outcomes` keeps: a feature above this one). Returns how many deadlines it
    handled."""
    due = list(tx.session.execute(_DUE, {"now": tx.now, "limit": limit}).scalars())
    handled = 0
    for call in due:
        if tx.run(_CLAIM, {"b_id": call.id, "b_due": call.plan_fallback_at}).rowcount != 1:
            continue
        tx.loaded_now(Call, call.id, held=call, plan_fallback_at=None)
        handled += 1
        states = _states(tx, call)
        unfilled = _unfilled(call, states)
        if not unfilled or not call.plan_fallback:
            continue
        declined_only = any(
            (tried := [s for r, s, t in states if r == role and t == call.plan_team])
            and all(s == AssignmentState.declined for s in tried)
            for role in unfilled
        )
        reason = (
            UnservedReason.all_declined if declined_only else UnservedReason.fallback_after_timeout
        )
        step = call.plan_fallback[0]
        after = f"{step['after_s']} s" if step["after_s"] else "at once"
        force = in_force(tx, call.agency_id)
        note_unserved(tx, call, reason, force)
        replace_team(
            tx,
            call,
            team=step["team"],
            roles=step["roles"],
            remaining=call.plan_fallback[1:],
            why=reason.value,
            said=f"{', '.join(unfilled)} not filled after {after}",
            config=config,
            force=force,
            routed=(prepared or {}).get(call.id),
        )
        if referred is not None and call.status == CallStatus.referred:
            referred(tx, call)
    return handled


def _states(tx: Tx, call: Call) -> list[tuple[str, str, str]]:
    return [(r.role, r.state, r.team) for r in tx.run(_STATES, {"call_id": call.id})]


def _unfilled(call: Call, states: list[tuple[str, str, str]]) -> list[str]:
    return [
        role["role"]
        for role in call.plan_roles
        if not any(r == role["role"] and s in FILLED and t == call.plan_team for r, s, t in states)
    ]


def unfilled_roles(tx: Tx, call: Call) -> list[str]:
    """The roles of the call's team nobody has accepted yet."""
    return _unfilled(call, _states(tx, call))


def note_unserved(tx: Tx, call: Call, reason: UnservedReason, force: InForce | None = None) -> None:
    """The call did not get the team its rule sends: as the programme the call was
    planned by names it, or else the first team the call was given."""
    force = force or in_force(tx, call.agency_id)
    team = (
        force.programme.team_of.get(call.plan_rule)
        if call.programme_version == force.version
        else None
    )
    if team is None:  # planned by an earlier version: the team it gave the call
        team = call.plan_taken[0]["from_team"] if call.plan_taken else call.plan_team
    record_unserved(
        tx, call, rule=call.plan_rule, team=team, reason=reason, zone=force.programme.zone
    )


def replace_team(
    tx: Tx,
    call: Call,
    *,
    team: str,
    roles: list[dict[str, Any]],
    remaining: list[dict[str, Any]],
    why: str,
    said: str,
    config: DispatchConfig,
    force: InForce,
    routed: Routed | None = None,
) -> None:
    """Send `team` (seated as `roles`) in place of the call's, with `remaining` as the
    fallbacks still to come: keep who fits, stand down the rest, and offer the seats
    still empty. `why` is the reason the plan's `taken` records, `said` the words the
    plan's reason and the stood-down responders read. The ledger is the caller's."""
    old_team = call.plan_team
    new_team = team
    new_roles = needs_from(roles)
    keep = _who_stays(tx, call, new_roles)
    stood_down = f"stood down: the call's team changed from {old_team} to {new_team} ({said})"
    freed = False
    for assignment in active_assignments(tx, call.id):
        if assignment.id not in keep:
            try:
                move(tx, assignment, AssignmentState.cancelled, reason=stood_down)
                freed = True
            except Conflict:
                continue  # answered meanwhile: it is no longer active
    for assignment, role in keep.values():
        tx.run(_RENAME, {"b_id": assignment.id, "b_role": role, "b_team": new_team})
        tx.loaded_now(Assignment, assignment.id, held=assignment, role=role, team=new_team)
        tx.record(
            "assignment.team_changed",
            agency_id=call.agency_id,
            call_id=call.id,
            responder_id=assignment.responder_id,
            assignment_id=assignment.id,
            data={
                "assignment": AssignmentPublic.of(assignment).model_dump(mode="json"),
                "reason": f"the call's team changed from {old_team} to {new_team}: you stay on it",
            },
        )
    due = None
    if remaining and new_team != POLICE:
        due = tx.now + timedelta(seconds=remaining[0]["after_s"])
    call.plan_team = new_team
    call.plan_roles = roles
    call.plan_fallback = remaining
    call.plan_fallback_at = due
    call.plan_taken = [
        *call.plan_taken,
        {
            "from_team": old_team,
            "to_team": new_team,
            "reason": why,
            "at": tx.now.isoformat(),
        },
    ]
    call.plan_reason = f"{call.plan_reason}; {said}: {new_team} sent instead"[:2000]
    if new_team == POLICE:
        call.status = CallStatus.referred
        call.closed_at = tx.now
    tx.session.flush()
    tx.record(
        "call.updated",
        agency_id=call.agency_id,
        call_id=call.id,
        data={
            **call_summary(call),
            "fallback": {"from": old_team, "to": new_team, "reason": why},
        },
    )
    if new_team != POLICE:
        filled = {role for _, role in keep.values()}
        for need in new_roles:
            if need.role not in filled:
                offer_role(
                    tx,
                    call=call,
                    need=need,
                    config=config,
                    offer_timeout_s=force.offer_timeout_s,
                    **by_road_for(routed, need.role),
                )
        update_call_status(tx, call)
    if freed:
        replan_waiting(tx, agency_id=call.agency_id, config=config)


_RENAME = Prepared(
    update(Assignment)
    .where(col(Assignment.id) == bindparam("b_id"))
    .values(role=bindparam("b_role"), team=bindparam("b_team"))
)
_RESPONDERS = select(
    col(Responder.id), col(Responder.kind), col(Responder.cit_certified_until)
).where(col(Responder.id).in_(bindparam("ids", expanding=True)))


def _who_stays(tx: Tx, call: Call, roles: list[RoleNeed]) -> dict[Any, tuple[Assignment, str]]:
    """The active assignments that keep a seat on the new team: assignment id → role.
    One on a role the new team also has keeps it; the others take a free role of their
    kind, in the team's order; a CIT role needs a certification valid on the call's day."""
    active = active_assignments(tx, call.id)
    if not active:
        return {}
    ids = {"ids": [a.responder_id for a in active]}
    people = {row.id: row for row in tx.session.execute(_RESPONDERS, ids)}
    on = call_date(call)

    def fits(assignment: Assignment, need: RoleNeed) -> bool:
        person = people.get(assignment.responder_id)
        if person is None or person.kind != need.kind:
            return False
        until = person.cit_certified_until
        return not need.cit_required or (until is not None and until >= on)

    keep: dict[Any, tuple[Assignment, str]] = {}
    by_role = {n.role: n for n in roles}
    for a in active:  # first those whose role the new team has, so no two share a role
        need = by_role.get(a.role)
        if need is not None and fits(a, need):
            keep[a.id] = (a, a.role)
    taken = {role for _, role in keep.values()}
    for a in active:
        if a.id in keep:
            continue
        need = next((n for n in roles if n.role not in taken and fits(a, n)), None)
        if need is not None:
            keep[a.id] = (a, need.role)
            taken.add(need.role)
    return keep
