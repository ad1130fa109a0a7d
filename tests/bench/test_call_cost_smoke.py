"""The in-process cost benchmark still runs every step of a call (no timings judged)."""

import re
from pathlib import Path

from tests.bench.run import run_bench


def test_the_call_cost_run_measures_every_step_of_every_call() -> None:
    out = run_bench("bench.call_cost", "--calls", "5", "--responders", "300", timeout_s=300)
    counts = dict(re.findall(r"^\| (\w+) \| (\d+) \|", out, re.MULTILINE))
    assert counts["token"] == counts["intake"] == "5", out
    # Every offer is accepted and taken through to cleared.
    assert int(counts["accept"]) >= 5
    assert counts["accept"] == counts["en_route"] == counts["on_scene"] == counts["cleared"]
    assert "A call's whole life, every step:" in out


def test_a_run_says_where_it_placed_people_and_calls(tmp_path: Path) -> None:
    """Runs placed around one point are another workload: a baseline run from a
    checkout that cannot find the shared sample must say so, and can be pointed at it."""
    sample = tmp_path / "calls.csv"
    sample.write_text("lat,lng\n40.12,-75.34\n40.20,-75.10\n39.99,-75.50\n91,0\n")
    small = ("--calls", "2", "--responders", "100")
    found = run_bench(
        "bench.call_cost", *small, timeout_s=300, env={"CORESPOND_BENCH_SAMPLE": str(sample)}
    )
    assert found.startswith("Placed around 3 real call locations (calls.csv)"), found
    missing = run_bench(
        "bench.call_cost",
        *small,
        timeout_s=300,
        env={"CORESPOND_BENCH_SAMPLE": str(tmp_path / "no.csv")},
    )
    assert missing.startswith(f"Placed around ONE point: {tmp_path / 'no.csv'} was not found"), (
        missing
    )
