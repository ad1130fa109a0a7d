"""Asking the road engine about the candidates a search gathered (`Asker`), and what
`rank_by_road` answers with: a ranking of `RoadChoice`s.

Each question is one many-to-one `RoadTimes.to_one` within a threshold: whoever the
engine answers "beyond" it goes back to the search with a bound above it; the others
are scored (by the fallback estimator where the engine has no road route).
"""

import heapq
import math
from collections.abc import Hashable
from dataclasses import dataclass

from dispatch.ranking import Candidate, Choice
from dispatch.roads import BEYOND, RoadTimes, RoutingUnavailable
from dispatch.travel import Point, TravelEstimator

# Per candidate gathered: (score lower bound, penalty, straight metres, candidate).
Filed = tuple[float, float, float, Candidate]
# Per candidate asked: (score, str(id), eta, distance, by road?, straight metres, candidate).
Scored = tuple[float, str, float, float, bool, float, Candidate]


@dataclass(frozen=True, slots=True)
class RoadChoice(Choice):
    """A `Choice` whose distance and ETA are by road, or by the fallback estimate
    when the engine found no road route from the candidate (`by_road` False)."""

    straight_m: float = 0.0  # as the crow flies (to a few parts per million near the call)
    by_road: bool = True
    # The engine said only that the trip takes longer than eta_s (score_s likewise;
    # distance_m is the straight line): only the crow-flies nearest is ever so.
    at_least: bool = False


@dataclass(frozen=True, slots=True)
class RoadRanking:
    choices: list[Choice]  # best first, each a RoadChoice
    crow_nearest: Choice | None  # the nearest as the crow flies of those asked about
    # `roads.to_one` calls made: without a reach 1 usually, 2 at most unless T doubled;
    # with one, a few (each answered from the engine's one search)
    queries: int
    candidates_routed: int  # origins sent to the engine in all (one asked twice, twice)


class Asker:
    """Asks the engine about candidates and keeps their scores."""

    def __init__(self, roads: RoadTimes, fallback: TravelEstimator, kind: str, call: Point):
        self.roads, self.fallback, self.kind, self.call = roads, fallback, kind, call
        self.scored: list[Scored] = []
        self.beyond: dict[Hashable, Filed] = {}  # asked, but beyond every threshold yet
        self.queries = 0
        self.routed = 0

    @property
    def count(self) -> int:
        """How many are scored."""
        return len(self.scored)

    def kth(self, k: int) -> float:
        """The k-th best score found; infinity while fewer than k are scored."""
        if len(self.scored) < k:
            return math.inf
        return heapq.nsmallest(k, self.scored)[-1][0]

    def ask(self, filed: list[Filed], limit: float) -> list[Filed]:
        """Score `filed` by road, needing exact times only for scores up to `limit`;
        returns those the engine answered beyond it, with their new bounds."""
        if not filed:
            return []
        within = _within(limit, min(penalty for _, penalty, _, _ in filed))
        origins = [Point(cand.lat, cand.lon) for _, _, _, cand in filed]
        travels = self.roads.to_one(origins, self.call, within_s=within)
        if len(travels) != len(origins):
            raise RoutingUnavailable(
                f"{self.roads.name} answered {len(travels)} travel times for "
                f"{len(origins)} responders"
            )
        self.queries += 1
        self.routed += len(origins)
        scored, fallback, kind, call = self.scored, self.fallback, self.kind, self.call
        beyond: list[Filed] = []
        for filing, origin, travel in zip(filed, origins, travels, strict=True):
            bound, penalty, metres, cand = filing
            if travel is not None and travel.eta_s == BEYOND.eta_s:
                if within is None:
                    raise RoutingUnavailable(
                        f"{self.roads.name} answered 'beyond' with no time limit asked"
                    )
                # Its time exceeds `within`, so its score is at least this (rounding
                # is monotonic), which `_within` made exceed `limit`.
                beyond.append((max(bound, within + penalty), penalty, metres, cand))
                continue
            self.beyond.pop(cand.id, None)
            by_road = travel is not None
            if travel is None:
                travel = fallback.travel(kind, origin, call)
            eta = travel.eta_s
            scored.append(
                (eta + penalty, str(cand.id), eta, travel.distance_m, by_road, metres, cand)
            )
        self.beyond.update((f[3].id, f) for f in beyond)
        return beyond

    def ranking(self, k: int) -> RoadRanking:
        best = heapq.nsmallest(k, self.scored)
        crow = min(self.scored, key=lambda s: (s[5], s[1]), default=None)
        far = min(self.beyond.values(), key=lambda f: (f[2], str(f[3].id)), default=None)
        crow_nearest = None if crow is None else _choice(crow)
        if far is not None and (crow is None or (far[2], str(far[3].id)) < (crow[5], crow[1])):
            bound, penalty, metres, cand = far
            crow_nearest = RoadChoice(
                cand, metres, bound - penalty, bound, straight_m=metres, at_least=True
            )
        return RoadRanking(
            choices=[_choice(s) for s in best],
            crow_nearest=crow_nearest,
            queries=self.queries,
            candidates_routed=self.routed,
        )


def _within(limit: float, least_penalty: float) -> float | None:
    """What to ask the engine for a threshold `limit` on scores: a time such that any
    trip longer scores above `limit` (with `least_penalty` added, as computed in
    floating point). None, for an exact answer about everyone, when `limit` is
    infinite."""
    if math.isinf(limit):
        return None
    within = limit - least_penalty
    while within + least_penalty <= limit:
        # A step of the threshold's size: near 0 the next float up is subnormal, and
        # a penalty equal to the threshold would take forever to leave behind.
        within = max(math.nextafter(within, math.inf), within + math.ulp(limit))
    return within


def _choice(s: Scored) -> RoadChoice:
    score, _, eta, distance, by_road, metres, cand = s
    return RoadChoice(cand, distance, eta, score, straight_m=metres, by_road=by_road)
