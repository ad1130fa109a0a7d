"""Choosing the responder for one role: `choose_responder`.

Filter and refine: candidates come in ring by ring, each gets a cheap lower
bound on its score, and only those whose bound could still beat the best exact
score are given an exact (dear) travel estimate. The search stops once nobody
outside the searched cells could beat the best found.
"""

import heapq
from bisect import insort
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from dispatch.cells import CellRange, rings_around
from dispatch.plan import RoleNeed
from dispatch.travel import Point, TravelEstimator, haversine_m
from models.vocabulary import ResponderKind


@dataclass(frozen=True, slots=True)
class Candidate:
    """An available responder as the decision sees it."""

    id: Hashable
    kind: ResponderKind
    lat: float
    lon: float
    cit_certified_until: date | None = None
    languages: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CallSite:
    """The call as the decision sees it: where, on which day, in which language."""

    lat: float
    lon: float
    on: date
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Preferences:
    """How much a mismatch costs, in seconds of travel it is worth."""

    language_penalty_s: float = 300.0
    skill_penalty_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Choice:
    candidate: Candidate
    distance_m: float
    eta_s: float
    score_s: float  # eta plus the preference penalties; lower is better


DEFAULT_PREFERENCES = Preferences()

# Given the cell ranges of one ring, the available responders of the role's kind
# filed there (the caller narrows by agency, kind and status).
Fetch = Callable[[Sequence[CellRange]], Iterable[Candidate]]


def is_eligible(candidate: Candidate, need: RoleNeed, on: date) -> bool:
    """Right kind, and for a CIT seat a certification valid on the call's date."""
    if candidate.kind != need.kind:
        return False
    if need.cit_required:
        until = candidate.cit_certified_until
        return until is not None and until >= on
    return True


def penalty_s(candidate: Candidate, need: RoleNeed, site: CallSite, prefs: Preferences) -> float:
    """Seconds added to a candidate's ETA for each preference it misses."""
    cost = prefs.skill_penalty_s * len(need.preferred_skills - candidate.skills)
    if site.language and site.language not in candidate.languages:
        cost += prefs.language_penalty_s
    return cost


def choose_responder(
    site: CallSite,
    need: RoleNeed,
    *,
    fetch: Fetch,
    estimator: TravelEstimator,
    prefs: Preferences = DEFAULT_PREFERENCES,
    exclude: frozenset[Hashable] = frozenset(),
) -> Choice | None:
    """The best eligible candidate for `need`, or None if nobody is in reach.

    Ties on score go to the smaller id (as a string), so the choice is repeatable.
    """
    best = rank_responders(
        site, need, k=1, fetch=fetch, estimator=estimator, prefs=prefs, exclude=exclude
    )
    return best[0] if best else None


def rank_responders(
    site: CallSite,
    need: RoleNeed,
    *,
    k: int,
    fetch: Fetch,
    estimator: TravelEstimator,
    prefs: Preferences = DEFAULT_PREFERENCES,
    exclude: frozenset[Hashable] = frozenset(),
) -> list[Choice]:
    """The `k` best eligible candidates for `need`, best first (fewer if fewer in reach)."""
    call = Point(site.lat, site.lon)
    seen: set[Hashable] = set(exclude)
    waiting: list[tuple[float, str, Candidate]] = []  # (score lower bound, id, candidate)
    found: list[Choice] = []  # exact, best first, at most k
    for ring in rings_around(site.lat, site.lon):
        for cand in fetch(ring.ranges):
            if cand.id in seen or not is_eligible(cand, need, site.on):
                continue
            seen.add(cand.id)
            straight = haversine_m(call, Point(cand.lat, cand.lon))
            bound = estimator.lower_bound_s(need.kind, straight) + penalty_s(
                cand, need, site, prefs
            )
            heapq.heappush(waiting, (bound, str(cand.id), cand))
        _refine(found, k, waiting, call, need, site, estimator, prefs)
        reach_s = estimator.lower_bound_s(need.kind, ring.covered_m)
        if len(found) == k and found[-1].score_s <= reach_s:
            return found
    return found


def _refine(
    found: list[Choice],
    k: int,
    waiting: list[tuple[float, str, Candidate]],
    call: Point,
    need: RoleNeed,
    site: CallSite,
    estimator: TravelEstimator,
    prefs: Preferences,
) -> None:
    """Give exact estimates to the candidates whose bound could still enter `found`."""
    while waiting and (len(found) < k or _key_of(waiting[0]) < _choice_key(found[-1])):
        _, _, cand = heapq.heappop(waiting)
        travel = estimator.travel(need.kind, Point(cand.lat, cand.lon), call)
        choice = Choice(
            candidate=cand,
            distance_m=travel.distance_m,
            eta_s=travel.eta_s,
            score_s=travel.eta_s + penalty_s(cand, need, site, prefs),
        )
        insort(found, choice, key=_choice_key)
        del found[k:]


def _key_of(entry: tuple[float, str, Candidate]) -> tuple[float, str]:
    return entry[0], entry[1]


def _choice_key(choice: Choice) -> tuple[float, str]:
    return choice.score_s, str(choice.candidate.id)
