"""A call's plan from its agency's programme: at intake, in a preview, and as stored.

The plan is stored on the call as the roles of the team sent (`plan_roles`), the
fallbacks still to come with the next one's deadline, and those taken; offers,
re-offers and the waiting queue read the roles, the timers the deadline.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import col

from dispatch.plan import roles_of
from dispatch.programme import (
    CallFacts,
    Decision,
    Eligible,
    FallbackStep,
    SeatNeed,
    decide,
    staffed_team,
)
from models.call import Call, CallCreate, FallbackPublic, PlanPreview, SeatPublic
from models.programme import POLICE
from models.responder import Responder
from models.rules import UnservedReason
from models.vocabulary import Category, ResponderKind, ResponderStatus
from service.rules.ledger import record_unserved
from service.rules.programmes import InForce
from service.store.prepared import Prepared
from service.store.transaction import Tx


def facts_of(body: CallCreate, at: datetime) -> CallFacts:
    return CallFacts(
        category=body.category,
        priority=body.priority,
        lat=body.location.lat,
        lon=body.location.lon,
        at=at,
        weapon=body.risk.weapon,
        violence=body.risk.violence,
        medical=body.risk.medical,
        age_group=body.age_group,
    )


def facts_of_call(call: Call) -> CallFacts:
    """A stored call as the programme reads it, at the time it was received."""
    return CallFacts(
        category=Category(call.category),  # the column reads back a plain string
        priority=call.priority,
        lat=call.lat,
        lon=call.lon,
        at=call.received_at,
        weapon=call.weapon,
        violence=call.violence,
        medical=call.medical,
        age_group=call.age_group,
    )


def roles_json(seats: tuple[SeatNeed, ...]) -> list[dict[str, Any]]:
    return [
        {
            "role": r.role,
            "kind": r.kind,
            "cit_required": r.cit_required,
            "preferred_skills": sorted(r.preferred_skills),
            "prefer_language": r.prefer_language,
        }
        for r in roles_of(seats)
    ]


def fallback_json(steps: tuple[FallbackStep, ...]) -> list[dict[str, Any]]:
    return [{"after_s": s.after_s, "team": s.team, "roles": roles_json(s.seats)} for s in steps]


def seats_public(roles: list[dict[str, Any]]) -> list[SeatPublic]:
    return [
        SeatPublic(
            role=r["role"],
            kind=r["kind"],
            cit=r["cit_required"],
            prefer_skills=r["preferred_skills"],
            prefer_language=r.get("prefer_language", True),
        )
        for r in roles
    ]


def fallback_public(steps: list[dict[str, Any]]) -> list[FallbackPublic]:
    return [
        FallbackPublic(after_s=s["after_s"], team=s["team"], seats=seats_public(s["roles"]))
        for s in steps
    ]


# Who is on duty (available or busy), by kind, and of the officers who hold a CIT
# certification valid on the call's day: what "nobody of a seat's kind on duty" asks.
_CIT = col(Responder.cit_certified_until) >= bindparam("day")
_ON_DUTY = Prepared(
    select(col(Responder.kind), _CIT.label("cit"), func.count())
    .where(
        col(Responder.agency_id) == bindparam("agency_id"),
        col(Responder.status).not_in([ResponderStatus.off_duty, ResponderStatus.out_of_service]),
    )
    .group_by(col(Responder.kind), _CIT)
)


def on_duty(tx: Tx, agency_id: uuid.UUID, day: date) -> set[tuple[str, bool]]:
    """(kind, False) for every kind with someone on duty; (officer, True) if a CIT one."""
    present: set[tuple[str, bool]] = set()
    for kind, cit, count in tx.run(_ON_DUTY, {"agency_id": agency_id, "day": day}):
        if count:
            present.add((kind, False))
            if cit and kind == ResponderKind.officer:
                present.add((kind, True))
    return present


def staffing(tx: Tx, agency_id: uuid.UUID, day: date) -> Callable[[SeatNeed], bool]:
    """A test of a seat: could anyone on duty now ever fill it?"""
    present: set[tuple[str, bool]] | None = None

    def could_fill(seat: SeatNeed) -> bool:
        nonlocal present
        if present is None:  # read once, and only for a team with fallbacks
            present = on_duty(tx, agency_id, day)
        return (seat.kind, seat.cit) in present

    return could_fill


@dataclass(frozen=True, slots=True)
class Planned:
    decision: Decision
    eligible: tuple[Eligible, ...]
    team: str
    seats: tuple[SeatNeed, ...]
    fallback: tuple[FallbackStep, ...]
    passed_over: tuple[str, ...]

    def columns(self, force: InForce, now: datetime) -> dict[str, Any]:
        d = self.decision
        reason = d.reason
        # Each team passed over gave way to the next, the last to the team sent.
        gave_to = (*self.passed_over[1:], self.team) if self.passed_over else ()
        gave_way = list(zip(self.passed_over, gave_to, strict=True))
        taken = [
            {
                "from_team": old,
                "to_team": new,
                "reason": UnservedReason.no_team_available.value,
                "at": now.isoformat(),
            }
            for old, new in gave_way
        ]
        for old, new in gave_way:
            reason += f"; {old} has a seat nobody on duty can fill: {new} sent at once"
        due = None
        if self.fallback and self.team != POLICE:
            due = now + timedelta(seconds=self.fallback[0].after_s)
        return {
            "programme_version": force.version,
            "plan_rule": d.rule,
            "plan_team": self.team,
            "plan_reason": reason[:2000],
            "plan_ems": d.ems,
            "plan_roles": roles_json(self.seats),
            "plan_fallback": fallback_json(self.fallback),
            "plan_fallback_at": due,
            "plan_taken": taken,
        }


def plan_for(
    tx: Tx, force: InForce, agency_id: uuid.UUID, facts: CallFacts, *, staffed: bool = True
) -> Planned:
    """The programme's decision for the call, and the team to send now: a team with a
    seat that nobody on duty could fill gives way at once to its fallback (unless
    `staffed` is False: who is on duty is not asked)."""
    decision, eligible = decide(force.programme, facts)
    everyone = staffing(tx, agency_id, facts.at.date()) if staffed else (lambda _seat: True)
    staffed_now = staffed_team(decision.team, decision.seats, decision.fallback, everyone)
    return Planned(
        decision,
        eligible,
        staffed_now.team,
        staffed_now.seats,
        staffed_now.fallback,
        staffed_now.passed_over,
    )


def record_intake(tx: Tx, call: Call, planned: Planned, force: InForce) -> None:
    """The ledger's entries a call has from its intake: the rules it was eligible for but
    outside of, and its own rule if its team gave way at once."""
    zone = force.programme.zone
    for e in planned.eligible:
        if e.outside is None:
            continue
        team = force.programme.team_of[e.rule]
        if team != planned.team:
            reason = UnservedReason(e.outside.value)
            record_unserved(tx, call, rule=e.rule, team=team, reason=reason, zone=zone)
    if planned.passed_over:
        record_unserved(
            tx,
            call,
            rule=planned.decision.rule,
            team=planned.decision.team,
            reason=UnservedReason.no_team_available,
            zone=zone,
        )


def preview(planned: Planned, force: InForce, at: datetime) -> PlanPreview:
    d = planned.decision
    return PlanPreview(
        rule=d.rule,
        team=d.team,
        seats=seats_public(roles_json(d.seats)),
        ems=d.ems,
        fallback=fallback_public(fallback_json(d.fallback)),
        reason=d.reason,
        eligible=[
            {"rule": e.rule, "outside": e.outside and e.outside.value} for e in planned.eligible
        ],
        at=at,
        programme_version=force.version,
    )
