"""From a call to the rule of its agency's programme that serves it: `apply_programme`.

A `Programme` (models/programme.py, already validated) is prepared once, its areas
as prepared geometries and its hours as minutes of the week; each call then costs a
walk down the rules; the first rule it reaches with an area tests the call against
every area at once (one vectorised call: 1.6 µs for 50 areas, where testing them one
by one cost 1.7 µs each; bench/plan_decision.py).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import numpy
import shapely
import shapely.geometry

from models.programme import MINUTES_A_DAY, POLICE, Programme, Rule, weekly_intervals
from models.vocabulary import Category


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the programme's rules may ask of a call."""

    category: Category
    priority: int
    lat: float
    lon: float
    at: datetime  # aware: the programme reads it in its own time zone
    weapon: bool = False
    violence: bool = False
    medical: bool = False
    age_group: str | None = None

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("a call's time must be aware (carry its offset)")


@dataclass(frozen=True, slots=True)
class SeatNeed:
    kind: str
    count: int = 1
    cit: bool = False
    prefer_skills: frozenset[str] = frozenset()
    prefer_language: bool = True


@dataclass(frozen=True, slots=True)
class FallbackStep:
    """Send `team` instead after `after_s` seconds without every seat filled."""

    after_s: int
    team: str
    seats: tuple[SeatNeed, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    rule: str
    team: str  # a team's name, or "police" for a referral with no CoRespond team
    seats: tuple[SeatNeed, ...]
    ems: bool
    fallback: tuple[FallbackStep, ...]
    reason: str


class Outside(StrEnum):
    """Why an eligible rule did not serve the call (the ledger's words)."""

    outside_hours = "outside_hours"
    outside_area = "outside_area"


@dataclass(frozen=True, slots=True)
class Eligible:
    """A rule the call is eligible for; `outside` is None for the rule that matched."""

    rule: str
    outside: Outside | None


@dataclass(frozen=True, slots=True)
class _PreparedRule:
    rule: Rule
    categories: frozenset[Category] | None
    risk_any: frozenset[str] | None
    risk_none: frozenset[str] | None
    priorities: frozenset[int] | None
    age_groups: frozenset[str] | None
    area: str | None
    hours: tuple[tuple[int, int], ...] | None


@dataclass(frozen=True, slots=True)
class PreparedProgramme:
    """A programme ready to apply to calls: build it once per version of the document."""

    zone: ZoneInfo
    rules: tuple[_PreparedRule, ...]
    teams: Mapping[str, tuple[SeatNeed, ...]]
    areas: Mapping[str, Any]  # shapely geometries, prepared
    area_index: Mapping[str, int]  # an area's place in `area_array`
    area_array: Any  # numpy array of the geometries, tested all at once
    team_of: Mapping[str, str]  # a rule's name: the team it sends


def prepare_programme(programme: Programme) -> PreparedProgramme:
    """Index a validated programme for `apply_programme` and `eligible_rules`."""
    areas = {}
    for name, polygon in programme.areas.items():
        geometry = shapely.geometry.shape(polygon.model_dump())
        shapely.prepare(geometry)
        areas[name] = geometry
    teams = {
        name: tuple(
            SeatNeed(s.kind, s.count, s.cit, frozenset(s.prefer_skills), s.prefer_language)
            for s in team.seats
        )
        for name, team in programme.teams.items()
    }
    teams[POLICE] = ()
    return PreparedProgramme(
        zone=ZoneInfo(programme.timezone),
        rules=tuple(_prepare_rule(rule) for rule in programme.rules),
        teams=MappingProxyType(teams),
        areas=MappingProxyType(areas),
        area_index=MappingProxyType({name: i for i, name in enumerate(areas)}),
        area_array=numpy.array(list(areas.values()), dtype=object),
        team_of=MappingProxyType({rule.name: rule.send for rule in programme.rules}),
    )


def _prepare_rule(rule: Rule) -> _PreparedRule:
    w = rule.when

    def chosen(values: list[Any] | None) -> frozenset[Any] | None:
        return None if values is None else frozenset(values)

    return _PreparedRule(
        rule=rule,
        categories=chosen(w.categories) if w else None,
        risk_any=chosen(w.risk_any) if w else None,
        risk_none=chosen(w.risk_none) if w else None,
        priorities=chosen(w.priorities) if w else None,
        age_groups=chosen(w.age_groups) if w else None,
        area=w.area if w else None,
        hours=weekly_intervals(w.hours) if w and w.hours is not None else None,
    )


def apply_programme(programme: PreparedProgramme, call: CallFacts) -> Decision:
    """The first rule the call matches, its team, EMS and fallbacks, and why.

    A validated programme ends with a rule that matches every call, so every call
    gets exactly one decision."""
    return decide(programme, call)[0]


def eligible_rules(programme: PreparedProgramme, call: CallFacts) -> tuple[Eligible, ...]:
    """Every rule, down to and including the one matched, whose `when` the call meets
    with `hours` and `area` ignored; each but the matched one says why it did not serve."""
    return tuple(Eligible(p.rule.name, why) for p, why in _walk(programme, call))


def decide(programme: PreparedProgramme, call: CallFacts) -> tuple[Decision, tuple[Eligible, ...]]:
    """`apply_programme` and `eligible_rules` in one walk down the rules (intake's)."""
    walked = _walk(programme, call)
    matched = walked[-1][0]
    outside = [(p.rule.name, why) for p, why in walked[:-1] if why is not None]
    eligible = tuple(Eligible(p.rule.name, why) for p, why in walked)
    return _decision(programme, matched, call, outside), eligible


# The order in which a rule's conditions are applied to a call:
# 1. categories: the call's category is one of them;
# 2. risk_any: at least one of the named flags (weapon, violence, medical) is set;
# 3. risk_none: none of the named flags is set;
# 4. priorities: the call's priority is one of them;
# 5. age_groups: the call states an age group and it is one of them (a call that
#    states none does not match a rule that names some);
#    a call that fails any of 1-5 is not eligible for the rule;
# 6. hours: the call's time, read in the programme's zone, falls in the weekly hours;
# 7. area: the call's place lies in the area (its boundary included).
# An eligible call that fails 6 is `outside_hours`, else one that fails 7 is
# `outside_area`; hours go first because they cost nothing, and an area is tested
# only for a call that reaches its rule eligible and in hours.
def _walk(
    programme: PreparedProgramme, call: CallFacts
) -> list[tuple[_PreparedRule, Outside | None]]:
    """The eligible rules down to the first match, the match last (outside None)."""
    local = call.at.astimezone(programme.zone)
    minute = local.weekday() * MINUTES_A_DAY + local.hour * 60 + local.minute
    flags = {f for f, on in (("weapon", call.weapon), ("violence", call.violence)) if on}
    flags |= {"medical"} if call.medical else set()
    walked: list[tuple[_PreparedRule, Outside | None]] = []
    inside = None  # every area's answer for the call, once one is asked
    for p in programme.rules:
        if not (
            (p.categories is None or call.category in p.categories)
            and (p.risk_any is None or p.risk_any & flags)
            and (p.risk_none is None or not p.risk_none & flags)
            and (p.priorities is None or call.priority in p.priorities)
            and (p.age_groups is None or call.age_group in p.age_groups)
        ):
            continue
        if p.hours is not None and not any(a <= minute < b for a, b in p.hours):
            walked.append((p, Outside.outside_hours))
        elif (
            p.area is not None
            and not (
                inside := (
                    inside
                    if inside is not None
                    else shapely.intersects_xy(programme.area_array, call.lon, call.lat)
                )
            )[programme.area_index[p.area]]
        ):
            walked.append((p, Outside.outside_area))
        else:
            walked.append((p, None))
            return walked
    raise ValueError("no rule matched: the programme's last rule must match every call")


def _decision(
    programme: PreparedProgramme,
    p: _PreparedRule,
    call: CallFacts,
    outside: list[tuple[str, Outside]],
) -> Decision:
    rule = p.rule

    def team(name: str) -> tuple[SeatNeed, ...]:
        return _preferring(programme.teams[name], rule, call.category)

    seats = team(rule.send)
    fallback = tuple(
        FallbackStep(step.after_s, step.send, team(step.send)) for step in rule.fallback
    )
    why = _why(p, call)
    reason = f'rule "{rule.name}"' + (f" ({why})" if why else "") + f": {_team(rule.send, seats)}"
    if rule.ems:
        reason += "; request EMS"
    for step in fallback:
        reason += (
            f"; after {step.after_s} s without every seat filled, {_team(step.team, step.seats)}"
        )
    for name, cause in outside:
        where = "hours" if cause is Outside.outside_hours else "area"
        reason += f'; outside the {where} of "{name}"'
    return Decision(rule.name, rule.send, seats, rule.ems, fallback, reason)


@dataclass(frozen=True, slots=True)
class Staffed:
    """The team to send now, the fallbacks still to come, and the teams passed over
    because a seat's kind had nobody on duty."""

    team: str
    seats: tuple[SeatNeed, ...]
    fallback: tuple[FallbackStep, ...]
    passed_over: tuple[str, ...]


def staffed_team(
    team: str,
    seats: tuple[SeatNeed, ...],
    fallback: tuple[FallbackStep, ...],
    on_duty: Callable[[SeatNeed], bool],
) -> Staffed:
    """Fall back at once, step by step, while some seat of the team has nobody on duty
    who could ever fill it (`on_duty`); the last step is kept even so (the call waits
    for someone to come on duty rather than have no plan)."""
    passed: list[str] = []
    while fallback and not all(on_duty(seat) for seat in seats):
        passed.append(team)
        team, seats, fallback = fallback[0].team, fallback[0].seats, fallback[1:]
    return Staffed(team, seats, fallback, tuple(passed))


def _preferring(
    seats: tuple[SeatNeed, ...], rule: Rule, category: Category
) -> tuple[SeatNeed, ...]:
    """The seats with the skills the rule prefers for the call's category added."""
    extra = [p for p in rule.prefer_skills if category in p.categories]
    if not extra:
        return seats
    return tuple(
        replace(
            seat,
            prefer_skills=seat.prefer_skills.union(
                *(p.skills for p in extra if p.kinds is None or seat.kind in p.kinds)
            ),
        )
        for seat in seats
    )


def _why(p: _PreparedRule, call: CallFacts) -> str:
    said = []
    if p.categories is not None:
        said.append(call.category.value.replace("_", " "))
    if p.risk_any is not None:
        flags = [f for f in ("weapon", "violence", "medical") if f in p.risk_any]
        on = [f for f in flags if getattr(call, f)]
        said.append(" and ".join(on) + " reported")
    if p.risk_none is not None:
        said.append("no " + " or ".join(sorted(p.risk_none)))
    if p.priorities is not None:
        said.append(f"priority {call.priority}")
    if p.age_groups is not None and call.age_group is not None:
        said.append(call.age_group.replace("_", " "))
    if p.area is not None:
        said.append(f"in {p.area}")
    if p.hours is not None:
        said.append("within its hours")
    return ", ".join(said)


def _team(name: str, seats: tuple[SeatNeed, ...]) -> str:
    if name == POLICE:
        return "refer to police, no CoRespond team"
    return f"{name} ({', '.join(_seat(s) for s in seats)})"


def _seat(seat: SeatNeed) -> str:
    kind = f"CIT {seat.kind}" if seat.cit else seat.kind
    return kind if seat.count == 1 else f"{seat.count} {kind}s"
