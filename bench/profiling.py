"""Where a dispatch decision's time goes: cProfile's own time, grouped by library.

cProfile charges a fixed overhead to every Python call, so it inflates the share
of code made of many small Python calls (the search loop) against code made of
few (a C extension). Read the shares as a direction, and check them against the
profile-free estimate the benchmark prints (exact estimates x cost of one).
"""

import cProfile
import pstats
from collections.abc import Sequence

from bench.contestants import Chooser, decide
from bench.population import BenchCall

BUCKETS = (
    ("geopy + geographiclib (the exact geodesic)", ("geopy", "geographiclib")),
    ("h3 and dispatch/cells.py (the ring walk)", ("/h3/", "/dispatch/cells.py")),
    ("dispatch/ search loop (ranking, index, bounds, penalties)", ("/dispatch/",)),
    ("benchmark harness", ("/bench/",)),
)
OTHER = "builtins and stdlib (bisect, heapq, math, str, ...)"


def bucket_of(filename: str, function: str) -> str:
    """The bucket a profiled function belongs to, by its file (or, for a C
    function, by the module named in its description)."""
    where = f"{filename} {function}"
    for name, marks in BUCKETS:
        if any(mark in where for mark in marks):
            return name
    return OTHER


def profile_decisions(calls: Sequence[BenchCall], choose: Chooser) -> list[tuple[str, float]]:
    """Each bucket's share (0-1) of the profiled time of deciding every call, largest first."""
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        decide(call, choose)
    profiler.disable()
    totals: dict[str, float] = {}
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own_s, _, _) in stats.items():
        bucket = bucket_of(filename, function)
        totals[bucket] = totals.get(bucket, 0.0) + own_s
    whole = sum(totals.values()) or 1.0
    return sorted(((name, s / whole) for name, s in totals.items()), key=lambda p: -p[1])
