"""Road engines measured on the synthetic county (`bench.road_network`): build time,
file size, load time, memory, and many-to-one latency near real call locations.

    .venv/bin/python -m bench.road_engines                       # the embedded graph
    .venv/bin/python -m bench.road_engines --pandana /tmp/pd/bin/python

The embedded graph (`service/routing/graph.py`: scipy csgraph Dijkstra from the
call over the reversed graph, with a time limit) is what CoRespond uses. pandana's
contraction hierarchies are measured, when asked, in the scratch virtualenv whose
interpreter `--pandana` names (pandana is not a dependency): its own process
reads the same graph file. pyvalhalla 3.2 is not measured: its wheel holds the
query side only (`Actor`), no tile builder, and no Debian 12 package has one.

A call is one of the shared sample's locations; 10,000 responders sit within 1 km
of others (`bench.population.place`); a query is the call's 20 or 200 nearest
responders as the crow flies, as the H3 shortlist hands them over.
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

Queries = list[tuple[tuple[float, float], list[tuple[float, float]]]]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def _quantiles_ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e3

    return {"median_ms": statistics.median(ordered) * 1e3, "p95_ms": at(0.95), "p99_ms": at(0.99)}


def make_queries(calls: int, sizes: tuple[int, ...], seed: int) -> dict[int, Queries]:
    from scipy.spatial import cKDTree

    from bench.population import load_call_locations, place

    anchors = load_call_locations()
    if not anchors:
        raise SystemExit("the shared call sample is not there (see bench/population.py)")
    rng = random.Random(seed)
    responders = np.array([place(rng, anchors) for _ in range(10_000)])
    scale = np.array([1.0, np.cos(np.radians(40.2))])
    tree = cKDTree(responders * scale)
    sites = [rng.choice(anchors) for _ in range(calls)]
    out: dict[int, Queries] = {}
    for k in sizes:
        _, nearest = tree.query(np.array(sites) * scale, k=k)
        out[k] = [
            (site, [tuple(responders[i]) for i in row])
            for site, row in zip(sites, nearest, strict=True)
        ]
    return out


def measure_embedded(graph_file: Path, queries: dict[int, Queries]) -> dict[str, Any]:
    from dispatch.travel import Point
    from service.routing.graph import RoadGraph

    result: dict[str, Any] = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bench.road_engines", "--inside-load", str(graph_file)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    graph = RoadGraph.load(graph_file)
    loads = []
    for _ in range(3):
        started = time.perf_counter()
        RoadGraph.load(graph_file)
        loads.append(time.perf_counter() - started)
    result["load_s_median_of_3_more"] = statistics.median(loads)
    for k, batch in queries.items():
        asked = [([Point(*o) for o in origins], Point(*site)) for site, origins in batch]
        for origins, dest in asked[:5]:  # warm
            graph.to_one(origins, dest)
        seconds, unreached, ratio = [], 0, []
        for origins, dest in asked:
            started = time.perf_counter()
            answers = graph.to_one(origins, dest)
            seconds.append(time.perf_counter() - started)
            unreached += sum(a is None for a in answers)
            ratio += [a.eta_s for a in answers if a is not None][:1]
        result[f"to_one_{k}"] = {
            **_quantiles_ms(seconds),
            "none_answers": unreached,
            "median_eta_of_first_s": statistics.median(ratio),
        }
    return result


def measure_load(graph_file: Path) -> dict[str, Any]:
    """In a fresh process, so that the memory is the graph's, not the build's reused;
    the modules are imported before the count starts."""
    from service.routing.graph import RoadGraph

    before = _rss_mb()
    started = time.perf_counter()
    graph = RoadGraph.load(graph_file)
    seconds = time.perf_counter() - started
    return {
        "load_s": seconds,
        "rss_growth_mb": _rss_mb() - before,
        "nodes": graph.arrays.node_count,
    }


def measure_pandana(graph_file: Path, queries_file: Path) -> dict[str, Any]:
    """Run inside pandana's virtualenv: CH from the same arrays, time as impedance."""
    import pandana  # type: ignore[import-not-found]
    import pandas as pd  # type: ignore[import-untyped]

    before = _rss_mb()
    held = np.load(graph_file)
    heads = np.repeat(np.arange(len(held["lat"])), np.diff(held["indptr"]))
    started = time.perf_counter()
    net = pandana.Network(
        pd.Series(held["lon"]),
        pd.Series(held["lat"]),
        pd.Series(held["tails"]),
        pd.Series(heads),
        pd.DataFrame({"t": held["time_ms"] / 1000.0}),
        twoway=False,
    )
    result: dict[str, Any] = {"build_s": time.perf_counter() - started}
    result["rss_growth_mb"] = _rss_mb() - before
    for k, batch in json.loads(queries_file.read_text()).items():
        seconds = []
        for site, origins in batch:
            xy = np.array([site, *origins])
            started = time.perf_counter()
            ids = net.get_node_ids(pd.Series(xy[:, 1]), pd.Series(xy[:, 0])).to_numpy()
            net.shortest_path_lengths(ids[1:], np.full(len(ids) - 1, ids[0]), "t")
            seconds.append(time.perf_counter() - started)
        result[f"to_one_{k}"] = _quantiles_ms(seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--pandana", type=Path, help="python of a virtualenv with pandana")
    parser.add_argument("--pandana-timeout", type=float, default=1_800.0)
    parser.add_argument("--inside-pandana", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--inside-load", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside_load:
        print(json.dumps(measure_load(args.inside_load)))
        return
    if args.inside_pandana:
        print(json.dumps(measure_pandana(*args.inside_pandana)))
        return
    from bench.road_network import write_county
    from service.routing.build import build_graph

    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="road-engines-") as scratch:
        extract, graph_file = Path(scratch) / "county.osm.pbf", Path(scratch) / "county.roads"
        started = time.perf_counter()
        write_county(extract, seed=args.seed)
        report["network"] = {
            "generate_s": time.perf_counter() - started,
            "extract_mb": extract.stat().st_size / 1e6,
        }
        before = _rss_mb()
        started = time.perf_counter()
        built = build_graph(extract)
        size = built.graph.save(graph_file)
        report["network"] |= {"nodes": built.graph.node_count, "edges": built.graph.edge_count}
        embedded: dict[str, Any] = {
            "build_s": time.perf_counter() - started,
            "build_rss_growth_mb": _rss_mb() - before,
            "file_mb": size / 1e6,
        }
        del built
        queries = make_queries(args.calls, (20, 200), args.seed)
        report["embedded (scipy csgraph)"] = embedded | measure_embedded(graph_file, queries)
        if args.pandana:
            queries_file = Path(scratch) / "queries.json"
            queries_file.write_text(json.dumps({str(k): v for k, v in queries.items()}))
            command = [str(args.pandana), "-m", "bench.road_engines", "--inside-pandana"]
            try:
                done = subprocess.run(
                    [*command, str(graph_file), str(queries_file)],
                    capture_output=True,
                    text=True,
                    timeout=args.pandana_timeout,
                    check=True,
                )
                report["pandana (CH)"] = json.loads(done.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                report["pandana (CH)"] = f"CH build not done in {args.pandana_timeout:.0f} s"
            except subprocess.CalledProcessError as exc:
                report["pandana (CH)"] = f"failed: {exc.stderr.strip()[-300:]}"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
