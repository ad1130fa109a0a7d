"""Choosing the responder for one role: `choose_responder`, `rank_responders`.

Filter and refine: candidates come in ring by ring and each gets a cheap lower
bound on its score. Only those whose bound could still beat the best found are
estimated: for a distance-based estimator, from a local-ellipsoid distance
known to within a few parts per million of the geodesic; where two estimates
leave the order in doubt, both get the exact geodesic. The search stops once
nobody outside the searched cells could beat the best found. The choice is
therefore exactly the geodesic ranking's, and tests check it against a scan.
"""

import heapq
from bisect import insort
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from dispatch.cells import CellRange, rings_around
from dispatch.plan import RoleNeed
from dispatch.travel import ByDistance, NearCall, Point, TravelEstimator


@dataclass(frozen=True, slots=True)
class Candidate:
    """An available responder as the decision sees it."""

    id: Hashable
    kind: str
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
    slack_s: float = 0.0  # the true score is within this of score_s (0: exact)

    @property
    def lowest_s(self) -> float:
        return self.score_s - self.slack_s

    @property
    def highest_s(self) -> float:
        return self.score_s + self.slack_s


DEFAULT_PREFERENCES = Preferences()

# An estimate may stand in for the geodesic while it is this close (some 14 km);
# a longer trip gets the exact geodesic, so distance_m is always within this.
_REPORT_TOLERANCE_M = 0.05

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
    if need.prefer_language and site.language and site.language not in candidate.languages:
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
    judge = _Judge(site, need, estimator, prefs)
    bound_m = judge.near.lower_bound_m
    # The bound is linear in distance for the estimators we have; one factor
    # spares a method call per candidate in the loop below.
    s_per_m = estimator.lower_bound_s(need.kind, 1.0)
    language = site.language if need.prefer_language else None  # penalty_s, inlined
    skills = tuple(need.preferred_skills)
    kind, cit_on = need.kind, site.on if need.cit_required else None
    seen: set[Hashable] = set(exclude)
    waiting: list[tuple[float, int, Candidate]] = []  # (score lower bound, arrival, candidate)
    found: list[Choice] = []  # every candidate estimated so far, best first
    for ring in rings_around(site.lat, site.lon):
        # The hot loop: per candidate, a set lookup, two comparisons and arithmetic.
        for cand in fetch(ring.ranges):
            if cand.id in seen:
                continue
            seen.add(cand.id)
            if cand.kind != kind:
                continue
            if cit_on is not None and (
                cand.cit_certified_until is None or cand.cit_certified_until < cit_on
            ):
                continue
            bound = bound_m(cand.lat, cand.lon) * s_per_m
            if language is not None and language not in cand.languages:
                bound += prefs.language_penalty_s
            for skill in skills:
                if skill not in cand.skills:
                    bound += prefs.skill_penalty_s
            heapq.heappush(waiting, (bound, len(seen), cand))
        judge.refine(found, k, waiting)
        reach_s = estimator.lower_bound_s(need.kind, ring.covered_m)
        if len(found) >= k and found[k - 1].highest_s <= reach_s:
            break
    return found[:k]


class _Judge:
    """Estimates candidates, cheaply where that decides the order, exactly where not."""

    def __init__(
        self, site: CallSite, need: RoleNeed, estimator: TravelEstimator, prefs: Preferences
    ) -> None:
        self.site, self.need, self.estimator, self.prefs = site, need, estimator, prefs
        self.call = Point(site.lat, site.lon)
        self.near = NearCall(site.lat, site.lon)
        # getattr, not isinstance: a runtime Protocol check costs more than a search ring.
        eta_s = getattr(estimator, "eta_s", None)
        self.by_distance: ByDistance | None = estimator if callable(eta_s) else None  # type: ignore[assignment]

    def refine(
        self, found: list[Choice], k: int, waiting: list[tuple[float, int, Candidate]]
    ) -> None:
        """Estimate the waiting candidates whose bound could still enter the best `k`
        (a bound equal to the k-th score could still win its tie on id), then make
        exact whatever estimates leave the order of the best k+1 in doubt."""
        while waiting and (len(found) < k or waiting[0][0] <= found[k - 1].highest_s):
            _, _, cand = heapq.heappop(waiting)
            insort(found, self.estimate(cand), key=_choice_key)
        self.settle(found, k)

    def estimate(self, cand: Candidate) -> Choice:
        penalty = penalty_s(cand, self.need, self.site, self.prefs)
        if self.by_distance is None:
            return self.exact(cand, penalty)
        metres, error = self.near.approx_m(cand.lat, cand.lon)
        if metres * error > _REPORT_TOLERANCE_M:
            return self.exact(cand, penalty)
        eta = self.by_distance.eta_s(self.need.kind, metres)
        # A micrometre besides the relative error: rounding at the call's doorstep.
        slack = self.by_distance.eta_s(self.need.kind, metres * error + 1e-6)
        return Choice(cand, metres, eta, eta + penalty, slack_s=slack)

    def exact(self, cand: Candidate, penalty: float) -> Choice:
        travel = self.estimator.travel(self.need.kind, Point(cand.lat, cand.lon), self.call)
        return Choice(cand, travel.distance_m, travel.eta_s, travel.eta_s + penalty)

    def settle(self, found: list[Choice], k: int) -> None:
        """Replace estimates by exact values until each of the best k is certainly
        ahead of everything after it."""
        while pair := self._in_doubt(found, k):
            for j in pair:
                c = found[j]
                found[j] = self.exact(c.candidate, c.score_s - c.eta_s)
            found.sort(key=_choice_key)

    @staticmethod
    def _in_doubt(found: list[Choice], k: int) -> tuple[int, int] | None:
        for i in range(min(k, len(found))):
            for j in range(i + 1, len(found)):
                a, b = found[i], found[j]
                if (a.slack_s or b.slack_s) and a.highest_s >= b.lowest_s:
                    return i, j
        return None


def _choice_key(choice: Choice) -> tuple[float, str]:
    return choice.score_s, str(choice.candidate.id)
