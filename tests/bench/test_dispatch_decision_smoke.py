"""The benchmark still runs, and its three contestants still agree (no timings judged)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_benchmark_runs_and_every_contestant_chooses_alike() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.dispatch_decision", "--quick", "--uniform"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "| 20/20, " in run.stdout  # the same choice as the numpy scan on every call
