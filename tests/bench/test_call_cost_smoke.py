"""The in-process cost benchmark still runs every step of a call (no timings judged)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_call_cost_run_measures_every_step_of_every_call() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.call_cost", "--calls", "5", "--responders", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    counts = dict(re.findall(r"^\| (\w+) \| (\d+) \|", run.stdout, re.MULTILINE))
    assert counts["token"] == counts["intake"] == "5", run.stdout
    # Every offer is accepted and taken through to cleared.
    assert int(counts["accept"]) >= 5
    assert counts["accept"] == counts["en_route"] == counts["on_scene"] == counts["cleared"]
    assert "A call's whole life, every step:" in run.stdout
