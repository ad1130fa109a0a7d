"""The road-decision benchmark still runs on a small town, and by road it chooses as a
road scan of everyone does (no timings judged)."""

from pathlib import Path

from tests.bench.run import run_bench


def test_the_quick_road_benchmark_runs_and_chooses_as_a_road_scan(tmp_path: Path) -> None:
    out = run_bench("bench.road_decision", "--quick", "--cache", str(tmp_path), timeout_s=120)
    assert "300 responders, 20 weapon calls" in out
    assert "graph: 1,681 nodes, 6,480 edges; built in" in out
    ways = [
        "geodesic (`rank_responders`), today's default",
        "by road (`rank_by_road`, the graph's reach)",
        "by road, bound by the fastest road alone (before)",
    ]
    rows = [line.split(" | ")[0][2:] for line in out.splitlines() if line.startswith("| ")]
    assert [r for r in rows if r in ways] == ways * 2  # all calls, then by language
    assert "exact: 20/20 calls" in out
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".pbf", ".roads"]
