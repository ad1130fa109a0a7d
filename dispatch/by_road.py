"""Choosing by road travel time: `rank_by_road`, `road_choice_reason`.

The same decision as `ranking.rank_responders` (eligibility, preference penalties,
the tie-break on id), scored by a road engine's travel time instead of the
straight line. The search must gather everyone who could score below the answer,
and ask the engine about them in one many-to-one query, within a threshold:
whoever cannot arrive by then is answered "beyond", sparing the engine the long
search to someone stranded across a river.

No trip is faster than its geodesic length at the engine's fastest road, so H3
rings around the call bound everyone outside them; but a motorway makes that
bound three times the town's streets, and a call's language (300 s on everyone
who does not speak it) sends it ~9 km out. An engine that searches outward from
the call says where a trip within a time can start at all, and how soon from each
place (`RoadTimes.reach`): then only those places are gathered, nearest first,
and the rings only as far as the fallback estimate (which scores whoever has no
road route) needs. The result is exactly what a road-time scan of every eligible
responder would rank, and tests hold the two side by side.
"""

import heapq
import math
from bisect import bisect_right
from collections.abc import Container, Hashable, Sequence
from dataclasses import dataclass
from itertools import chain

from dispatch.cells import CellRange, ranges_of, rings_around
from dispatch.plan import RoleNeed
from dispatch.ranking import (
    DEFAULT_PREFERENCES,
    CallSite,
    Candidate,
    Choice,
    Fetch,
    Preferences,
)
from dispatch.roads import BEYOND, Reach, RoadTimes, RoutingUnavailable
from dispatch.travel import NearCall, Point, TravelEstimator

# The order of the steps:
# 1. Gather ring by ring: each eligible candidate gets a lower bound on its score,
#    its penalties plus its geodesic (less NearCall's error) at the fastest road
#    (or at the fallback's bound, if that is lower: the fallback scores whoever
#    the engine cannot route), until k are gathered.
# 2. Guess a threshold T: the k-th best straight-line score gathered (penalties
#    plus the fallback estimate times a margin), plus a little for the legs to the
#    road. Where the rings at the fastest road would reach far, ask the engine's
#    reach, as far as the threshold guessed without penalties (where T starts if
#    the engine has one) allows for a few doublings. Without a reach, widen until
#    nobody outside the rings could score T or less.
# 3. Gather, for T, the reach's places whose least time is at most T (their bound:
#    that time and the penalties), and the rings as far as the fallback needs; ask
#    the engine, in one query, about every candidate gathered whose bound is at
#    most T, within T less the least penalty among them: a candidate answered
#    "beyond" scores above T, and goes back among the gathered with that as its
#    bound. Whom the engine cannot route is scored by the fallback estimator.
# 4. If the k-th best score found is at most T, stop: everyone else has a bound,
#    and so a score, above T. Without a reach this is the common case: one query.
# 5. If fewer than k were scored, raise T: double it, or, with a reach, only to just
#    over the least bound of those gathered and not yet asked about, if less; widen
#    and ask again as in 3; until k are scored.
# 6. The k-th best score found is an upper bound on the answer's: make it T (with a
#    reach, double T while that is less: asking again within a reach costs little),
#    widen, and ask as in 3. A reach too short is asked again once, to the k-th best.
# 7. Rank by score, then by id as a string; the crow-flies nearest of those asked
#    is reported for the plan's sentence (if it was beyond, as "more than").

# Road times run above the straight-line estimate where streets wind or a river
# intervenes, and the legs to and from the road are driven slowly: a larger guess
# asks about more candidates in the first query, a smaller one needs the second
# query more often. On tests/dispatch/road_town.py's grid with 20 to 1,000
# responders, 1.25 x + 30 s took one query in 297 of 300 decisions (k=1 and 5),
# routing 19 (k=1) and 41 (k=5) a decision; 1.5 x + 0 s routed 9 and 28 but took
# two queries in 86 of 300. The margin is the road's, so penalties are not
# multiplied: a call's language (300 s) would otherwise add 75 s to T, and ~2 km
# at the fastest road to the rings searched (bench/road_decision.py).
_GUESS_MARGIN = 1.25
_GUESS_EXTRA_S = 30.0

# How the search widens (as cells.LADDER, which serves the straight line): a road
# bound reaches some 4x farther (the fastest road against the fallback's speed),
# where LADDER jumps from a 1.9 km ring to a 13 km disk. The steps between gather
# a third to a half as many candidates (10,000 responders on 15-50 km), 2-3 more rings.
_LADDER = ((10, 3), (8, 4), (7, 4), (6, 3), (5, 3), (4, 3), (3, 2))

# Per candidate gathered: (score lower bound, penalty, straight metres, candidate).
_Filed = tuple[float, float, float, Candidate]
# Per candidate asked: (score, str(id), eta, distance, by road?, straight metres, candidate).
_Scored = tuple[float, str, float, float, bool, float, Candidate]
# Where the straight line at the fastest road gathers few, the rings cost less than
# the engine's reach (a search of its own, its cells): a threshold under this far at
# the fastest road is covered by the rings alone (bench/road_decision.py).
_REACH_FROM_M = 3_000.0
# How far ahead of the first threshold to ask the engine's reach: a call's language
# puts the threshold guessed from the straight line 300 s above the road's, and the
# search widens from the road's by doubling, asking again only past the reach.
_AHEAD = 4.0
# Past this threshold the engine's reach is most of its network: the rings decide (and,
# when fewer than k are in reach at all, run out) at the fastest road.
_REACH_UP_TO_S = 4 * 3600.0
# Ranges in one `fetch`: a reach of hundreds of cells is asked in parts (the database
# ORs a query's ranges, one index scan each).
_RANGES_A_FETCH = 64
# When fewer than k are found within a threshold, the next one need go no farther
# than this over the least bound of those gathered but not asked about yet, who then
# mostly arrive within it (a bound by road is the least time from their cell).
_ABOVE_BOUND = 1.1
# Each doubling of the threshold when fewer than k could arrive within it (step 5).
_RAISE = 2.0


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


def rank_by_road(
    site: CallSite,
    need: RoleNeed,
    *,
    k: int,
    fetch: Fetch,
    roads: RoadTimes,
    fallback: TravelEstimator,
    prefs: Preferences = DEFAULT_PREFERENCES,
    exclude: frozenset[Hashable] = frozenset(),
) -> RoadRanking:
    """The `k` best eligible candidates for `need` by road travel time, best first
    (fewer if fewer in reach), with the same eligibility, penalties and tie-break as
    `rank_responders`. Raises `RoutingUnavailable` when the engine cannot answer; the
    caller then ranks the call in a straight line.

    An engine without a reach (a routing server) is asked once usually, twice when
    the straight line guessed the threshold low. When fewer than `k` of those first
    asked can arrive within it (everyone near is across a river), the threshold
    doubles, one more query each time, before the last: the worst case is
    2 + log2(k-th best score / first threshold) queries, each bounded by its
    threshold. An engine with a reach is asked where trips can start once or twice
    a seat (the call's next seat mostly reuses it), and then a few times about
    candidates, from the same search.

    `fallback.lower_bound_s` must be linear in distance, as the estimators' are.
    """
    if k < 1:
        raise ValueError(f"k is how many candidates to rank: at least 1, not {k}")
    fastest = roads.fastest_mps
    if not fastest > 0:
        raise ValueError(f"{roads.name} gives {fastest} m/s as its fastest road; need > 0")
    guess_per_m = fallback.lower_bound_s(need.kind, 1.0)
    call = Point(site.lat, site.lon)
    search = _Search(site, need, k, fetch, prefs, exclude, fastest, guess_per_m)
    asker = _Asker(roads, fallback, need.kind, call)
    reacher = _Reacher(roads, call)
    guessed = search.guess(guess_per_m, None)  # steps 1 and 2
    limit = min(guessed, search.road_limit)
    reach = None
    if guessed * fastest >= _REACH_FROM_M:  # far: the engine says where from, if it can
        reach = reacher.reach(min(guessed, _AHEAD * limit))
    if reach is None:  # the straight line at the fastest road must cover it
        limit = search.guess(guess_per_m, search.bound_per_m)
    search.cover(limit, reach)
    search.refile(asker.ask(search.take_up_to(limit), limit))  # step 3
    while (kth := asker.kth(k)) > limit:  # step 4
        if kth < math.inf:  # step 6
            limit = kth if reach is None else min(kth, _RAISE * limit)
        elif search.exhausted:
            break  # fewer than k in reach, every one of them scored
        else:  # step 5, no farther than the bounds of those gathered need
            missing = search.least_bound(k - asker.count, asker.beyond) * _ABOVE_BOUND
            limit = min(_RAISE * limit, missing) if reach is not None else _RAISE * limit
        if limit > reach.within_s if reach is not None else limit * fastest >= _REACH_FROM_M:
            # Beyond the reach asked about, or far enough to want one: as far as needs be.
            reach = reacher.reach(kth if kth < math.inf else max(limit, guessed))
        search.cover(limit, reach)
        search.refile(asker.ask(search.take_up_to(limit), limit))
    return asker.ranking(k)  # step 7


class _Reacher:
    """Asks the engine where a trip to the call can start, until it says it cannot."""

    def __init__(self, roads: RoadTimes, call: Point) -> None:
        self.roads, self.call, self.can = roads, call, True

    def reach(self, within_s: float) -> Reach | None:
        if not self.can or within_s > _REACH_UP_TO_S:
            return None
        reach = self.roads.reach(self.call, within_s)
        self.can = reach is not None
        return reach


class _Search:
    """The rings around the call and the candidates gathered but not yet asked about."""

    def __init__(
        self,
        site: CallSite,
        need: RoleNeed,
        k: int,
        fetch: Fetch,
        prefs: Preferences,
        exclude: frozenset[Hashable],
        fastest_mps: float,
        fallback_per_m: float,
    ) -> None:
        self.need, self.k, self.fetch, self.prefs = need, k, fetch, prefs
        self.language = site.language if need.prefer_language else None
        self.cit_on = site.on if need.cit_required else None
        self.near = NearCall(site.lat, site.lon)
        self.fallback_per_m = fallback_per_m  # the fallback's bound (a straight line)
        self.bound_per_m = min(1 / fastest_mps, fallback_per_m)  # anyone's, by road or not
        self.rings = rings_around(site.lat, site.lon, _LADDER)
        self.seen: set[Hashable] = set(exclude)
        self.filed: list[_Filed] = []
        self.covered_m = 0.0  # nobody outside the rings searched is nearer
        self.fetched_cells: set[int] = set()  # the engine's reach, gathered
        self.reach: Reach | None = None  # the last reach, and how many of its cells
        self.reach_taken = 0  # were gathered (it lists them soonest first)
        self.guesses: list[float] = []  # the k best guessed scores, ascending
        self.road_guesses: list[float] = []  # the k best guessed road times, ascending
        self.rings_left = True

    def guess(self, guess_per_m: float, ring_per_m: float | None) -> float:
        """Steps 1 and 2: widen until the threshold is guessed and the rings cover it,
        nobody outside them scoring as little at `ring_per_m` (None: k guessed will
        do). Infinite when fewer than k are in reach."""
        per_m = guess_per_m * _GUESS_MARGIN
        while True:
            if len(self.guesses) == self.k:
                limit = self.guesses[-1] + _GUESS_EXTRA_S
                if ring_per_m is None or self.covered_m * ring_per_m > limit:
                    return limit
            else:
                limit = math.inf
            if (ring := next(self.rings, None)) is None:
                self.rings_left = False
                return limit
            start = self.file(ring.ranges)
            self.covered_m = ring.covered_m
            new = [m * per_m for _, _, m, _ in self.filed[start:]]
            scores = (p + g for g, (_, p, _, _) in zip(new, self.filed[start:], strict=True))
            self.guesses = heapq.nsmallest(self.k, chain(self.guesses, scores))
            self.road_guesses = heapq.nsmallest(self.k, chain(self.road_guesses, new))

    @property
    def road_limit(self) -> float:
        """The threshold guessed as if nobody had a penalty: where the search of an
        engine that knows its reach starts, and widens from."""
        if len(self.road_guesses) < self.k:
            return math.inf
        return self.road_guesses[-1] + _GUESS_EXTRA_S

    @property
    def exhausted(self) -> bool:
        """Every candidate in reach has been asked about and scored."""
        return not self.filed and not self.rings_left

    def cover(self, limit: float, reach: Reach | None) -> None:
        """Gather everyone who could score `limit` or less: whoever the engine's `reach`
        holds (nobody else arrives by road in time), and the rings as far as nobody
        outside them could score that in a straight line; without a reach, as far as
        nobody could by road either."""
        per_m, routed_m = self.bound_per_m, 0.0
        if reach is not None:
            per_m, routed_m = self.fallback_per_m, reach.all_routed_m
            if reach is not self.reach:  # those gathered from an earlier one are seen
                self.reach, self.reach_taken = reach, 0
            start, end = self.reach_taken, bisect_right(reach.least_s, limit)
            self.reach_taken = max(start, end)
            fetched = self.fetched_cells
            unrouted: list[int] = []
            routed: list[int] = []
            least_s = math.inf
            for least, cell in zip(reach.least_s[start:end], reach.cells[start:end], strict=True):
                if cell not in fetched:
                    fetched.add(cell)
                    if least > 0:
                        routed.append(cell)
                        least_s = min(least_s, least)
                    else:
                        unrouted.append(cell)
            self.gather(unrouted, 0.0)
            self.gather(routed, least_s)
        while max(self.covered_m, routed_m) * per_m <= limit:
            if (ring := next(self.rings, None)) is None:
                self.rings_left = False
                return
            self.file(ring.ranges)
            self.covered_m = ring.covered_m

    def gather(self, cells: list[int], least_s: float) -> None:
        """File the candidates in `cells`, each of whom arrives by road in no less
        than `least_s` (0: some may have no road route)."""
        if not cells:
            return
        ranges = ranges_of(cells)
        for at in range(0, len(ranges), _RANGES_A_FETCH):
            self.file(ranges[at : at + _RANGES_A_FETCH], least_s)

    def least_bound(self, n: int, asked: Container[Hashable]) -> float:
        """The n-th least bound of those gathered and never `asked` about (infinity
        if fewer): a threshold that finds no more below it need not be tried."""
        bounds = heapq.nsmallest(n, (f[0] for f in self.filed if f[3].id not in asked))
        return bounds[-1] if len(bounds) == n else math.inf

    def refile(self, beyond: list[_Filed]) -> None:
        """Those answered beyond a threshold, back among the gathered with new bounds."""
        self.filed.extend(beyond)

    def take_up_to(self, limit: float) -> list[_Filed]:
        """The gathered candidates whose bound is at most `limit`, to ask about, each
        measured as the crow flies (`file` leaves some unmeasured)."""
        taken = [f for f in self.filed if f[0] <= limit]
        self.filed = [f for f in self.filed if f[0] > limit]
        approx_m, isnan = self.near.approx_m, math.isnan
        return [
            (bound, penalty, approx_m(cand.lat, cand.lon)[0] if isnan(m) else m, cand)
            for bound, penalty, m, cand in taken
        ]

    def file(self, ranges: Sequence[CellRange], least_s: float = 0.0) -> int:
        """Gather the eligible candidates in `ranges` with their bounds; returns where
        in `filed` they start. The hot loop: a set lookup, two comparisons, one
        distance and arithmetic per candidate, as `rank_responders` does. Given the
        least time by road from where they are (`least_s`, more than 0), that and the
        penalties are the bound, and the distance waits until they are asked about
        (most never are: a call's language puts 300 s on nearly everyone)."""
        seen, filed, approx_m = self.seen, self.filed, self.near.approx_m
        kind, cit_on, language = self.need.kind, self.cit_on, self.language
        skills = tuple(self.need.preferred_skills)
        language_s, skill_s = self.prefs.language_penalty_s, self.prefs.skill_penalty_s
        per_m = self.bound_per_m
        start = len(filed)
        for cand in self.fetch(ranges):
            if cand.id in seen:
                continue
            seen.add(cand.id)
            if cand.kind != kind:
                continue
            if cit_on is not None and (
                cand.cit_certified_until is None or cand.cit_certified_until < cit_on
            ):
                continue
            # As `penalty_s` adds it, to the last bit: scores must match a scan's.
            missing = 0
            for skill in skills:
                if skill not in cand.skills:
                    missing += 1
            penalty = skill_s * missing
            if language is not None and language not in cand.languages:
                penalty += language_s
            if least_s > 0:
                filed.append((penalty + least_s, penalty, math.nan, cand))
                continue
            metres, error = approx_m(cand.lat, cand.lon)
            lowest_m = metres * (1 - error) - 1e-6  # NearCall.lower_bound_m, inlined
            filed.append((penalty + max(lowest_m, 0.0) * per_m, penalty, metres, cand))
        return start


class _Asker:
    """Asks the engine about candidates and keeps their scores."""

    def __init__(self, roads: RoadTimes, fallback: TravelEstimator, kind: str, call: Point):
        self.roads, self.fallback, self.kind, self.call = roads, fallback, kind, call
        self.scored: list[_Scored] = []
        self.beyond: dict[Hashable, _Filed] = {}  # asked, but beyond every threshold yet
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

    def ask(self, filed: list[_Filed], limit: float) -> list[_Filed]:
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
        beyond: list[_Filed] = []
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


def _choice(s: _Scored) -> RoadChoice:
    score, _, eta, distance, by_road, metres, cand = s
    return RoadChoice(cand, distance, eta, score, straight_m=metres, by_road=by_road)
