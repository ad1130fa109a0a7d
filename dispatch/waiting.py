"""Waiting calls: when responders free up, one choice for all the waiting calls."""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

import numpy as np
from scipy.optimize import linear_sum_assignment

from dispatch.plan import RoleNeed
from dispatch.ranking import (
    DEFAULT_PREFERENCES,
    CallSite,
    Choice,
    Fetch,
    Preferences,
    rank_responders,
)
from dispatch.travel import TravelEstimator

_NO_PAIR = 1e12  # a cost no real pair reaches: "cannot be assigned"


# The `k` best candidates for a waiting role, best first, leaving out those given:
# by default `rank_responders` with the estimator; by road, `by_road.rank_by_road`.
Rank = Callable[["WaitingNeed", int, frozenset[Hashable]], list[Choice]]


@dataclass(frozen=True, slots=True)
class WaitingNeed:
    """One role a waiting call still lacks."""

    key: Hashable
    site: CallSite
    need: RoleNeed
    priority: int
    received_at: datetime
    exclude: frozenset[Hashable] = frozenset()  # who already declined or let it expire


def assign_waiting(
    waiting: Sequence[WaitingNeed],
    *,
    fetch_for: Callable[[str], Fetch],
    estimator: TravelEstimator,
    prefs: Preferences = DEFAULT_PREFERENCES,
    rank: Rank | None = None,
) -> list[tuple[WaitingNeed, Choice]]:
    """Who to offer each waiting role to, for all of them at once (ranked by `rank`
    when given, e.g. by road travel time; else by `estimator`).

    The order matters:
    1. priority first: the roles of more urgent calls are filled before any of
       a less urgent one, whatever the distances;
    2. within one priority, the roles served are the oldest that can all be
       served together (a responder fits only some roles: kind, CIT);
    3. among those, one assignment minimising the total score (travel time plus
       preference penalties), not each role's nearest in turn;
    4. responders given to one priority are not offered to the next.
    """

    def by_estimate(w: WaitingNeed, k: int, exclude: frozenset[Hashable]) -> list[Choice]:
        return rank_responders(
            w.site,
            w.need,
            k=k,
            fetch=fetch_for(w.need.kind),
            estimator=estimator,
            prefs=prefs,
            exclude=exclude,
        )

    ranked: Rank = rank if rank is not None else by_estimate
    ordered = sorted(waiting, key=lambda w: (w.priority, w.received_at))
    taken: set[Hashable] = set()
    chosen: list[tuple[WaitingNeed, Choice]] = []
    for _, group in groupby(ordered, key=lambda w: w.priority):
        tier = list(group)
        for need, choice in _assign_tier(tier, taken, ranked):
            taken.add(choice.candidate.id)
            chosen.append((need, choice))
    return chosen


def _assign_tier(
    tier: list[WaitingNeed], taken: set[Hashable], rank: Rank
) -> list[tuple[WaitingNeed, Choice]]:
    # With n roles to fill, some optimal assignment gives each role one of its n
    # best candidates (the other n-1 roles can take at most n-1 of them), so
    # shortlists of n are enough for an exact answer.
    shortlists = [rank(w, len(tier), w.exclude | frozenset(taken)) for w in tier]
    columns: dict[Hashable, int] = {}
    for shortlist in shortlists:
        for choice in shortlist:
            columns.setdefault(choice.candidate.id, len(columns))
    if not columns:
        return []
    cost = np.full((len(tier), len(columns)), _NO_PAIR)
    for row, shortlist in enumerate(shortlists):
        for choice in shortlist:
            cost[row, columns[choice.candidate.id]] = choice.score_s
    served = _oldest_servable(cost)
    rows, cols = linear_sum_assignment(cost[served])
    by_column = {index: cid for cid, index in columns.items()}
    result = []
    for row, col in zip(rows, cols, strict=True):
        need_row = served[row]
        choice = next(c for c in shortlists[need_row] if c.candidate.id == by_column[col])
        result.append((tier[need_row], choice))
    return result


def _oldest_servable(cost: np.ndarray) -> list[int]:
    """The rows (oldest first) kept greedily while all kept rows can still be
    matched to distinct columns: the oldest set of roles that can be served."""
    kept: list[int] = []
    for row in range(cost.shape[0]):
        if len(kept) == cost.shape[1]:
            break
        trial = [*kept, row]
        rows, cols = linear_sum_assignment(cost[trial])
        if len(rows) == len(trial) and (cost[trial][rows, cols] < _NO_PAIR).all():
            kept = trial
    return kept
