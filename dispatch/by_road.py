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
from collections.abc import Callable, Container, Hashable, Iterable, Iterator, Sequence
from itertools import chain

from dispatch.cells import CellRange, Ring, ranges_of, rings_around
from dispatch.plan import RoleNeed
from dispatch.ranking import (
    DEFAULT_PREFERENCES,
    CallSite,
    Candidate,
    Fetch,
    Preferences,
)
from dispatch.road_asking import Asker, Filed
from dispatch.road_asking import RoadChoice as RoadChoice  # what callers import from here
from dispatch.road_asking import RoadRanking as RoadRanking
from dispatch.roads import Reach, RoadTimes
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

# The candidates filed under any of the ranges who speak the language given (a `Fetch`
# filtered by language): the database, or `ResponderIndex.fetch_speaking`.
FetchSpeaking = Callable[[Sequence[CellRange], str], Iterable[Candidate]]

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
# How the search for a call's language speakers alone widens (`FetchSpeaking`): they are
# few (a speaker of a rare language in 25-50 of everyone, of Spanish in 5), so coarse
# cells fetch few, and the threshold's disk at the fastest road takes a handful of
# fetches. Their bound is the loose one, the straight line at the fastest road, yet
# cheaper than the engine's reach that far: of 10,000 responders (bench/road_decision.py,
# CPU time a decision, mean) Vietnamese and Chinese calls took 1.6-1.7 ms instead of
# 2.4-3.3, Spanish 1.3-1.6 instead of 1.8-2.1; the speakers gathered from the reach's
# cells instead, 1.9-2.6.
_SPEAKERS_LADDER = ((8, 3), (7, 3), (6, 3), (5, 3), (4, 3), (3, 2))
# The least a threshold must drop for the language penalty, against rounding (seconds):
# the search of everyone goes this much farther than score - penalty.
_PENALTY_MARGIN_S = 1e-6


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
    fetch_speaking: FetchSpeaking | None = None,
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

    With `fetch_speaking` (the same candidates as `fetch`, filtered by language), a
    call's language splits the search: everyone who does not speak it scores the
    language penalty more than their time, so beyond the threshold less that penalty
    only speakers are gathered, in a straight line at the fastest road; the engine's
    reach is asked only as far as everyone is. A call in a rare language with nobody
    speaking it near then routes a few speakers instead of everyone within ~6 minutes.

    `fallback.lower_bound_s` must be linear in distance, as the estimators' are.
    """
    if k < 1:
        raise ValueError(f"k is how many candidates to rank: at least 1, not {k}")
    fastest = roads.fastest_mps
    if not fastest > 0:
        raise ValueError(f"{roads.name} gives {fastest} m/s as its fastest road; need > 0")
    guess_per_m = fallback.lower_bound_s(need.kind, 1.0)
    call = Point(site.lat, site.lon)
    search = _Search(site, need, k, fetch, prefs, exclude, fastest, guess_per_m, fetch_speaking)
    asker = Asker(roads, fallback, need.kind, call)
    reacher = _Reacher(roads, call)
    guessed = search.guess(guess_per_m, None)  # steps 1 and 2
    limit = min(guessed, search.road_limit)
    reach = None
    if guessed * fastest >= _REACH_FROM_M:  # far: the engine says where from, if it can
        reach = reacher.reach(search.everyone_up_to(min(guessed, _AHEAD * limit)))
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
            if search.split:  # the speakers' bounds are the fastest road's: loose
                missing = max(missing, guessed)
            limit = min(_RAISE * limit, missing) if reach is not None else _RAISE * limit
        everyone = search.everyone_up_to(limit)  # as far as everyone must be gathered
        if everyone > reach.within_s if reach is not None else everyone * fastest >= _REACH_FROM_M:
            # Beyond the reach asked about, or far enough to want one: as far as needs be.
            reach = reacher.reach(
                search.everyone_up_to(kth if kth < math.inf else max(limit, guessed))
            )
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
        # Split by language, everyone may need gathering no farther than the call: the
        # engine's reach of nothing says it has one, and how far round all is routed.
        reach = self.roads.reach(self.call, max(within_s, 0.0))
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
        fetch_speaking: FetchSpeaking | None = None,
    ) -> None:
        self.need, self.k, self.fetch, self.prefs = need, k, fetch, prefs
        self.language = site.language if need.prefer_language else None
        # Split by language: everyone as far as a score less the penalty, speakers beyond.
        self.speaking: FetchSpeaking | None = None
        self.speakers_rings: Iterator[Ring] = iter(())
        if self.language and fetch_speaking is not None and prefs.language_penalty_s > 0:
            self.speaking = fetch_speaking
            self.speakers_rings = rings_around(site.lat, site.lon, _SPEAKERS_LADDER)
        self.speakers_m = 0.0  # no speaker outside the speakers' rings searched is nearer
        self.cit_on = site.on if need.cit_required else None
        self.near = NearCall(site.lat, site.lon)
        self.fallback_per_m = fallback_per_m  # the fallback's bound (a straight line)
        self.bound_per_m = min(1 / fastest_mps, fallback_per_m)  # anyone's, by road or not
        self.rings = rings_around(site.lat, site.lon, _LADDER)
        self.seen: set[Hashable] = set(exclude)
        self.filed: list[Filed] = []
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
                if ring_per_m is None or self.covered_m * ring_per_m > self.everyone_up_to(limit):
                    return limit  # `cover` gathers the speakers beyond
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
    def split(self) -> bool:
        """Whether speakers of the call's language are searched for apart."""
        return self.speaking is not None

    def everyone_up_to(self, limit: float) -> float:
        """How far in time (bounds less penalties) everyone must be gathered for a
        threshold `limit`: `limit`, or, when the search is split by language, that less
        the language penalty (only speakers can score `limit` from farther)."""
        if self.speaking is None:
            return limit
        return limit - self.prefs.language_penalty_s + _PENALTY_MARGIN_S

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
        nobody could by road either. Split by language, all that as far as
        `everyone_up_to(limit)`, and the speakers as far as nobody outside their rings
        could score `limit` by road or in a straight line."""
        if self.speaking is not None:
            self._cover_speakers(limit)
            limit = self.everyone_up_to(limit)
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

    def _cover_speakers(self, limit: float) -> None:
        speaking, language = self.speaking, self.language
        assert speaking is not None and language is not None
        while self.speakers_m * self.bound_per_m <= limit:
            if (ring := next(self.speakers_rings, None)) is None:
                self.speakers_m = math.inf
                return
            self.file(ring.ranges, fetch=lambda ranges: speaking(ranges, language))
            self.speakers_m = ring.covered_m

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

    def refile(self, beyond: list[Filed]) -> None:
        """Those answered beyond a threshold, back among the gathered with new bounds."""
        self.filed.extend(beyond)

    def take_up_to(self, limit: float) -> list[Filed]:
        """The gathered candidates whose bound is at most `limit`, to ask about, each
        measured as the crow flies (`file` leaves some unmeasured)."""
        taken = [f for f in self.filed if f[0] <= limit]
        self.filed = [f for f in self.filed if f[0] > limit]
        approx_m, isnan = self.near.approx_m, math.isnan
        return [
            (bound, penalty, approx_m(cand.lat, cand.lon)[0] if isnan(m) else m, cand)
            for bound, penalty, m, cand in taken
        ]

    def file(
        self,
        ranges: Sequence[CellRange],
        least_s: float = 0.0,
        fetch: Callable[[Sequence[CellRange]], Iterable[Candidate]] | None = None,
    ) -> int:
        """Gather the eligible candidates in `ranges` with their bounds; returns where
        in `filed` they start. The hot loop: a set lookup, two comparisons, one
        distance and arithmetic per candidate, as `rank_responders` does. Given the
        least time by road from where they are (`least_s`, more than 0), that and the
        penalties are the bound, and the distance waits until they are asked about
        (most never are: a call's language puts 300 s on nearly everyone). `fetch`
        instead of the search's own: the speakers of the call's language."""
        seen, filed, approx_m = self.seen, self.filed, self.near.approx_m
        kind, cit_on, language = self.need.kind, self.cit_on, self.language
        skills = tuple(self.need.preferred_skills)
        language_s, skill_s = self.prefs.language_penalty_s, self.prefs.skill_penalty_s
        per_m = self.bound_per_m
        start = len(filed)
        for cand in (fetch or self.fetch)(ranges):
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
