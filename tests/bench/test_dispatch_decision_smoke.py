"""The benchmark still runs, and its three contestants still agree (no timings judged)."""

from tests.bench.run import run_bench


def test_the_quick_benchmark_runs_and_every_contestant_chooses_alike() -> None:
    out = run_bench("bench.dispatch_decision", "--quick", "--uniform", timeout_s=120)
    assert "| 20/20, " in out  # the same choice as the numpy scan on every call
