"""The dispatch-decision benchmark (DESIGN.md, "Performance budgets").

For each population size it times, per call, one dispatch decision (plan a
weapon call, then choose a CIT officer and a clinician) three ways: the indexed
H3 search under test, a numpy haversine scan of everyone, and a geopy geodesic
to everyone (on a few calls only: it takes seconds at 100,000). Every time is
wall-clock per decision, over all the roles of the plan, from
`time.perf_counter_ns`. It checks that all three choose the same responders and
exits 1 if they do not; the targets are reported, never asserted.

    python -m bench.dispatch_decision [--sizes 1000,10000,100000] [--calls 200] [--quick]
"""

import argparse
import gc
import itertools
import random
import sys
import time
from collections.abc import Sequence

import numpy as np

from bench.contestants import Chooser, Contestants, Decision, decide
from bench.population import (
    BenchCall,
    load_call_locations,
    make_calls,
    make_responders,
    plan_roles,
)
from bench.profiling import profile_decisions
from bench.report import (
    GroupMedian,
    SizeResult,
    Spread,
    cost_lines,
    group_table,
    main_table,
    verdicts,
)
from dispatch.cells import clear_ring_cache
from dispatch.travel import GeodesicEstimator, Point
from models.vocabulary import ResponderKind

SIZES, CALLS = (1_000, 10_000, 100_000), 200
# The geopy scan runs on as many calls as fit this many responder-pairs per size
# (about 4 s at ~200 µs a pair), but on at least a few.
GEOPY_PAIRS, GEOPY_MIN_CALLS = 20_000, 3
QUICK_SIZES, QUICK_CALLS, QUICK_GEOPY_PAIRS = (500, 2_000), 20, 2_000


def timed(calls: Sequence[BenchCall], choose: Chooser) -> tuple[list[int], list[Decision]]:
    """Each call's decision and the nanoseconds it took.

    The search caches the cell ranges of the rings it walks; they are cleared
    first, so a call does not find its own rings cached by the warm-up pass
    (calls still share the coarse rings they have in common, as in service).
    """
    clear_ring_cache()
    gc.collect()
    times, decisions = [], []
    for call in calls:
        start = time.perf_counter_ns()
        decision = decide(call, choose)
        times.append(time.perf_counter_ns() - start)
        decisions.append(decision)
    return times, decisions


def call_group(call: BenchCall) -> str:
    """What makes a call's search wider: a language (300 s for a responder without
    it), else a preferred skill (120 s for a clinician without it), else nothing."""
    if call.site.language:
        return f"language {call.site.language}"
    roles = plan_roles(call.site, call.classification)
    return "preferred skill" if any(r.preferred_skills for r in roles) else "no preference"


def group_medians(calls: Sequence[BenchCall], times_ns: Sequence[int]) -> tuple[GroupMedian, ...]:
    by_group: dict[str, list[int]] = {}
    for call, ns in zip(calls, times_ns, strict=True):
        by_group.setdefault(call_group(call), []).append(ns)
    return tuple(
        GroupMedian(group=g, calls=len(ns), median_us=float(np.median(ns)) / 1e3)
        for g, ns in sorted(by_group.items())
    )


def disagreements(
    name: str, calls: Sequence[BenchCall], expected: Sequence[Decision], got: Sequence[Decision]
) -> list[str]:
    """One line per call where `got` differs from the decision under test."""
    return [
        f"{name}: call {i} at ({c.site.lat:.5f}, {c.site.lon:.5f}): index chose {e}, scan {g}"
        for i, (c, e, g) in enumerate(zip(calls, expected, got, strict=False))
        if e != g
    ]


def measure_size(
    size: int, calls: Sequence[BenchCall], geopy_calls: int, field: Contestants
) -> SizeResult:
    """Time the three contestants on `calls` (the geopy scan on the first `geopy_calls`)."""
    counted = [decide(call, field.indexed_counting) for call in calls]  # also warms up
    times, chosen = timed(calls, field.indexed)
    numpy_times, numpy_chosen = timed(calls, field.numpy_scan)
    geopy_times, geopy_chosen = timed(calls[:geopy_calls], field.geopy_scan)
    wrong = (
        disagreements("counting run", calls, chosen, counted)
        + disagreements("numpy scan", calls, chosen, numpy_chosen)
        + disagreements("geopy scan", calls, chosen, geopy_chosen)
    )
    return SizeResult(
        size=size,
        calls=len(calls),
        decision=Spread.of(times),
        numpy=Spread.of(numpy_times),
        geopy=Spread.of(geopy_times),
        geopy_calls=len(geopy_chosen),
        numpy_agree=sum(a == b for a, b in zip(chosen, numpy_chosen, strict=True)),
        geopy_agree=sum(a == b for a, b in zip(chosen, geopy_chosen, strict=False)),
        fetched=field.work.fetched / len(calls),
        exact=field.work.exact / len(calls),
        groups=group_medians(calls, times),
        disagreements=tuple(wrong),
    )


def geodesic_pair_us(calls: Sequence[BenchCall], estimator: GeodesicEstimator) -> float:
    """Median microseconds of one exact estimate (a geopy geodesic) between call sites."""
    points = [Point(c.site.lat, c.site.lon) for c in calls[:201]]
    times = []
    for a, b in itertools.pairwise(points):
        start = time.perf_counter_ns()
        estimator.travel(ResponderKind.officer, a, b)
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times)) / 1e3 if times else float("nan")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch_decision", description=__doc__)
    parser.add_argument("--sizes", help="responders per run, comma-separated (1000,10000,100000)")
    parser.add_argument("--calls", type=int, help="call positions per size (200)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--quick", action="store_true", help="small sizes, few calls: a smoke run")
    parser.add_argument("--geopy-calls", type=int, help="calls per size for the geopy scan")
    parser.add_argument("--uniform", action="store_true", help="ignore the montco sample")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    args = parser.parse_args(argv)
    default_sizes = QUICK_SIZES if args.quick else SIZES
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(default_sizes)
    args.calls = args.calls or (QUICK_CALLS if args.quick else CALLS)
    return args


def geopy_calls_for(size: int, args: argparse.Namespace) -> int:
    if args.geopy_calls is not None:
        return int(min(args.geopy_calls, args.calls))
    pairs, least = (QUICK_GEOPY_PAIRS, 1) if args.quick else (GEOPY_PAIRS, GEOPY_MIN_CALLS)
    return int(min(args.calls, max(least, pairs // size)))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    anchors = None if args.uniform else load_call_locations()
    where = (
        f"within 1 km of {len(anchors):,} real Montgomery County 911 calls"
        if anchors
        else "uniform over the county box"
    )
    estimator = GeodesicEstimator()
    calls = make_calls(args.calls, random.Random(f"{args.seed}-calls"), anchors)
    pair_us = geodesic_pair_us(calls, estimator)
    print(f"positions {where}; {args.calls} weapon calls (CIT officer + clinician) a size")
    results, field = [], None
    for size in args.sizes:
        print(f"measuring {size:,} responders ...", file=sys.stderr, flush=True)
        people = make_responders(size, random.Random(f"{args.seed}-people-{size}"), anchors)
        field = Contestants.of(people, estimator)
        results.append(measure_size(size, calls, geopy_calls_for(size, args), field))
    report = [
        "",
        *main_table(results),
        "",
        "decision median µs by kind of call (calls):",
        *group_table(results),
        "",
        f"where the time goes (one geopy geodesic: {pair_us:.0f} µs):",
        *cost_lines(results, pair_us),
        "",
        *verdicts(results),
    ]
    print("\n".join(report))
    if args.profile and field is not None:
        print(f"\ncProfile, own time of deciding every call at {args.sizes[-1]:,} responders:")
        for name, share in profile_decisions(calls, field.indexed):
            print(f"  {share:6.1%}  {name}")
    wrong = [line for r in results for line in r.disagreements]
    for line in wrong[:20]:
        print(f"DISAGREE {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
