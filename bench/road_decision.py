"""The road-travel decision benchmark (DESIGN.md, "Performance budgets": a decision
over 10,000 responders on a county-sized graph within 5 ms, exact).

On the synthetic county of `bench.road_network` (built once through the real build
path and cached under /tmp), 10,000 responders and the calls are placed as
`bench.dispatch_decision` places them (around the shared sample's real call
locations). A decision is a weapon call's plan (a CIT officer and a clinician),
each seat chosen with k=1 over an in-memory `ResponderIndex`, four ways, one call
after another in the same run, each way starting without the graph's kept search:
in a straight line (`rank_responders`, today's default), by road (`rank_by_road`
on the graph, which says where trips can start, with the call's language speakers
fetched apart), the same without that fetch (the decision before it), and by road
with the graph saying nothing of where trips start, as a routing server (the search
bounded by the fastest road: the decision as it was before `RoadTimes.reach`). Each
decision's wall-clock time and its thread's CPU time are reported. On a sample of
calls the road choice is checked against a road scan of every eligible responder
(one `to_one`, no limit); a mismatch exits 1.

    python -m bench.road_decision [--responders 10000] [--calls 300] [--quick]
                                  [--frozen-heap]
"""

import argparse
import gc
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

import numpy as np

from bench.population import (
    BenchCall,
    load_call_locations,
    make_calls,
    make_responders,
    plan_roles,
    population_note,
)
from bench.report import Spread
from bench.road_network import to_lat_lon, write_county
from dispatch.by_road import rank_by_road
from dispatch.cells import clear_ring_cache
from dispatch.index import ResponderIndex
from dispatch.plan import RoleNeed
from dispatch.ranking import DEFAULT_PREFERENCES, Candidate, is_eligible, penalty_s, rank_responders
from dispatch.roads import Reach, RoadTimes
from dispatch.travel import GeodesicEstimator, Point, Travel
from models.vocabulary import ResponderKind
from service.routing.build import build_graph
from service.routing.graph import RoadGraph

CACHE = Path("/tmp/corespond-bench")
QUICK_BLOCKS, QUICK_SPACING_M = 41, 125.0  # a 5 km town, for the smoke test
_ESTIMATOR = GeodesicEstimator()


@dataclass(frozen=True)
class WithoutReach:
    """The graph saying nothing of where a trip can start, as a routing server does:
    the search is bounded by the fastest road alone (the decision before `reach`)."""

    graph: RoadGraph

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def fastest_mps(self) -> float:
        return self.graph.fastest_mps

    def to_one(
        self, origins: Sequence[Point], dest: Point, *, within_s: float | None = None
    ) -> list[Travel | None]:
        return self.graph.to_one(origins, dest, within_s=within_s)

    def reach(self, dest: Point, within_s: float) -> Reach | None:
        return None


@dataclass
class Timed:
    """One way of deciding, over the calls: nanoseconds and the engine's work."""

    name: str
    times_ns: list[int]
    queries: list[int]
    routed: list[int]
    cpu_ns: list[int]  # the thread's CPU time: what a machine shared with others spares


Decide = Callable[[BenchCall, RoleNeed], tuple[Hashable | None, int, int]]


def write_town(path: Path) -> None:
    """A small grid town (the smoke test's): residential streets, every 8th a
    secondary road, and a river along the middle row crossed by one bridge."""
    import osmium
    from osmium.osm.mutable import Node, Way

    n, half = QUICK_BLOCKS, (QUICK_BLOCKS - 1) * QUICK_SPACING_M / 2
    xs = np.arange(n) * QUICK_SPACING_M - half
    lat, lon = to_lat_lon(*np.meshgrid(xs, xs))  # row j, column i: node j * n + i + 1
    writer = osmium.SimpleWriter(str(path))
    try:
        for j in range(n):
            for i in range(n):
                writer.add_node(Node(id=j * n + i + 1, location=(lon[j, i], lat[j, i])))
        ways = 0
        for k in range(n):
            tags = {"highway": "secondary" if k % 8 == 0 else "residential"}
            rows = [[k * n + i + 1 for i in range(n)]]  # east-west street k
            south, north = list(range(0, n // 2 + 1)), list(range(n // 2 + 1, n))
            column = [[j * n + k + 1 for j in part] for part in (south, north)]
            if k == n - 4:  # the bridge
                column = [[j * n + k + 1 for j in range(n)]]
            for refs in rows + column:
                ways += 1
                writer.add_way(Way(id=ways, nodes=refs, tags=tags))
    finally:
        writer.close()


def county_graph(cache: Path, *, seed: int, quick: bool) -> tuple[Path, dict[str, float]]:
    """The graph file (built now, or by an earlier run: its figures are cached beside it)."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = "town" if quick else f"county-{seed}"
    graph_file, facts_file = cache / f"{stem}.roads", cache / f"{stem}.json"
    if graph_file.is_file() and facts_file.is_file():
        facts: dict[str, float] = json.loads(facts_file.read_text())
        return graph_file, facts | {"cached": 1.0}
    extract = cache / f"{stem}.osm.pbf"
    started = time.perf_counter()
    if quick:
        write_town(extract)
    else:
        write_county(extract, seed=seed)
    generated = time.perf_counter() - started
    built = build_graph(extract)
    size = built.graph.save(graph_file)
    facts = {
        "generate_s": generated,
        "build_s": built.seconds,
        "file_mb": size / 1e6,
        "nodes": built.graph.node_count,
        "edges": built.graph.edge_count,
    }
    facts_file.write_text(json.dumps(facts))
    return graph_file, facts | {"cached": 0.0}


def load_facts(graph_file: Path) -> dict[str, float]:
    """Load time and memory in a fresh process (`bench.road_engines --inside-load`)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.road_engines", "--inside-load", str(graph_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    facts: dict[str, float] = json.loads(done.stdout)
    return facts


def deciders(
    indexes: dict[str, ResponderIndex], graph: RoadGraph
) -> tuple[Decide, Decide, Decide, Decide]:
    def geodesic(call: BenchCall, need: RoleNeed) -> tuple[Hashable | None, int, int]:
        fetch = indexes[need.kind].fetch
        best = rank_responders(call.site, need, k=1, fetch=fetch, estimator=_ESTIMATOR)
        return (best[0].candidate.id if best else None), 0, 0

    def by_road(roads: RoadTimes, *, speaking: bool) -> Decide:
        def decide(call: BenchCall, need: RoleNeed) -> tuple[Hashable | None, int, int]:
            index = indexes[need.kind]
            got = rank_by_road(
                call.site,
                need,
                k=1,
                fetch=index.fetch,
                roads=roads,
                fallback=_ESTIMATOR,
                fetch_speaking=index.fetch_speaking if speaking else None,
            )
            chosen = got.choices[0].candidate.id if got.choices else None
            return chosen, got.queries, got.candidates_routed

        return decide

    return (
        geodesic,
        by_road(graph, speaking=True),
        by_road(graph, speaking=False),
        by_road(WithoutReach(graph), speaking=False),
    )


def race(calls: Sequence[BenchCall], ways: dict[str, Decide], graph: RoadGraph) -> dict[str, Timed]:
    """Each call decided each way in turn (the same moment of a shared machine), each
    way starting without the graph's last search (the call's seats share one)."""
    clear_ring_cache()
    out = {name: Timed(name, [], [], [], []) for name in ways}
    for call in calls:
        needs = plan_roles(call.site, call.classification)
        for name, decide in ways.items():
            graph.forget()
            started, cpu = time.perf_counter_ns(), time.thread_time_ns()
            work = [decide(call, need) for need in needs]
            out[name].times_ns.append(time.perf_counter_ns() - started)
            out[name].cpu_ns.append(time.thread_time_ns() - cpu)
            out[name].queries.append(sum(w[1] for w in work))
            out[name].routed.append(sum(w[2] for w in work))
    return out


def road_scan(
    call: BenchCall, need: RoleNeed, people: Sequence[Candidate], graph: RoadGraph
) -> Hashable | None:
    """The best eligible responder by road, every one of them asked in one query."""
    site, here = call.site, Point(call.site.lat, call.site.lon)
    eligible = [p for p in people if is_eligible(p, need, site.on)]
    travels = graph.to_one([Point(p.lat, p.lon) for p in eligible], here)
    best: tuple[float, str, Hashable] | None = None
    for person, travel in zip(eligible, travels, strict=True):
        if travel is None:
            travel = _ESTIMATOR.travel(need.kind, Point(person.lat, person.lon), here)
        score = travel.eta_s + penalty_s(person, need, site, DEFAULT_PREFERENCES)
        if best is None or (score, str(person.id)) < best[:2]:
            best = (score, str(person.id), person.id)
    return None if best is None else best[2]


def table(results: dict[str, Timed]) -> list[str]:
    lines = [
        "| decision (k=1 a seat, officer + clinician) | median µs | p95 µs | p99 µs | max µs "
        "| queries a decision (max) | routed a decision | CPU median / p95 / p99 µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in results.values():
        s, c = Spread.of(t.times_ns), Spread.of(t.cpu_ns)
        lines.append(
            f"| {t.name} | {s.median_us:,.0f} | {s.p95_us:,.0f} | {s.p99_us:,.0f} "
            f"| {max(t.times_ns) / 1e3:,.0f} | {np.mean(t.queries):.2f} ({max(t.queries)}) "
            f"| {np.mean(t.routed):.1f} | {c.median_us:,.0f} / {c.p95_us:,.0f} / {c.p99_us:,.0f} |"
        )
    return lines


def by_language(calls: Sequence[BenchCall], results: dict[str, Timed]) -> list[str]:
    """The spread split by whether the call states a language: a responder without it
    costs 300 s, so the search must gather everyone who could still beat that."""
    lines = ["| decision | calls stating a language: median / p95 / p99 µs | the others |"]
    lines.append("| --- | --- | --- |")
    stated = [bool(c.site.language) for c in calls]
    for t in results.values():
        cells = []
        for want in (True, False):
            ns = [n for n, s in zip(t.times_ns, stated, strict=True) if s is want]
            x = Spread.of(ns) if ns else Spread(math.nan, math.nan, math.nan, math.nan)
            cells.append(f"{len(ns)}: {x.median_us:,.0f} / {x.p95_us:,.0f} / {x.p99_us:,.0f}")
        lines.append(f"| {t.name} | {cells[0]} | {cells[1]} |")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.road_decision", description=__doc__)
    parser.add_argument("--responders", type=int, help="responders, half of each kind (10000)")
    parser.add_argument("--calls", type=int, help="calls timed (300)")
    parser.add_argument("--check", type=int, help="calls checked against a road scan (50)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the graph is kept")
    parser.add_argument("--quick", action="store_true", help="a small town: a smoke run")
    parser.add_argument(
        "--frozen-heap",
        action="store_true",
        help="freeze what set-up made out of garbage collection, as the service does",
    )
    args = parser.parse_args(argv)
    args.responders = args.responders or (300 if args.quick else 10_000)
    args.calls = args.calls or (20 if args.quick else 300)
    args.check = min(args.calls, args.check or (20 if args.quick else 50))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    graph_file, facts = county_graph(args.cache, seed=args.seed, quick=args.quick)
    loaded = load_facts(graph_file)
    graph = RoadGraph.load(graph_file)
    if args.quick:  # around points of the town, none from the shared sample
        half = (QUICK_BLOCKS - 1) * QUICK_SPACING_M / 2 - 1_000
        lat, lon = to_lat_lon(
            *np.meshgrid(np.linspace(-half, half, 5), np.linspace(-half, half, 5))
        )
        anchors: list[tuple[float, float]] | None = list(zip(lat.ravel(), lon.ravel(), strict=True))
        where = "around 25 points of a 5 km grid town"
    else:
        anchors = load_call_locations()
        where = population_note(anchors)
    people = make_responders(args.responders, Random(f"{args.seed}-people"), anchors)
    by_kind: dict[str, list[Candidate]] = {k: [] for k in ResponderKind}
    for person in people:
        by_kind[person.kind].append(person)
    indexes = {k: ResponderIndex(group) for k, group in by_kind.items()}
    calls = make_calls(args.calls + 20, Random(f"{args.seed}-calls"), anchors)
    warm, calls = calls[:20], calls[20:]
    geodesic, road, unsplit, before = deciders(indexes, graph)
    ways = {
        "geodesic (`rank_responders`), today's default": geodesic,
        "by road (`rank_by_road`, the graph's reach)": road,
        "by road, the graph's reach, no fetch by language (before)": unsplit,
        "by road, bound by the fastest road alone (before)": before,
    }
    race(warm, ways, graph)
    if args.frozen_heap:  # as `corespond serve` runs (service/app.py)
        gc.freeze()
        gc.set_threshold(10_000, 50, 100)
    results = race(calls, ways, graph)
    wrong = []
    for i, call in enumerate(calls[: args.check]):
        for need in plan_roles(call.site, call.classification):
            chosen = road(call, need)[0]
            if chosen != road_scan(call, need, by_kind[need.kind], graph):
                wrong.append(f"call {i} at ({call.site.lat:.5f}, {call.site.lon:.5f}) {need.role}")
    cached = " (cached by an earlier run)" if facts["cached"] else ""
    print(f"{where}; {args.responders:,} responders, {args.calls} weapon calls")
    print(
        f"graph: {facts['nodes']:,.0f} nodes, {facts['edges']:,.0f} edges; built in "
        f"{facts['build_s']:.1f} s{cached}, file {facts['file_mb']:.1f} MB, loaded in "
        f"{loaded['load_s'] * 1e3:.0f} ms, +{loaded['rss_growth_mb']:.0f} MB RSS"
    )
    print("\n".join(["", *table(results), "", *by_language(calls, results), ""]))
    print(f"exact: {args.check - len({w.split(' at ')[0] for w in wrong})}/{args.check} calls")
    print("  chose as a road scan of every eligible responder does (one to_one, no limit)")
    for line in wrong[:20]:
        print(f"DISAGREE {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
