"""The load benchmark still runs end to end, and what it checks still holds (no timings
judged: those belong in bench/README.md)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_load_run_completes_and_nobody_is_double_booked() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.load", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "20 of 20 consoles connected (0 console errors)" in run.stdout
    steady = re.search(r"\| steady \| 5 \| (\d+)/(\d+) \|.*\| (\d+) \| (\d+) \|", run.stdout)
    assert steady is not None, run.stdout
    created, posted, offers, missing = map(int, steady.groups())
    assert created == posted == 10 and offers > 0 and missing == 0
    assert re.search(r"\| steady \|.*\| \d+% \(\d+%\) \|$", run.stdout, re.MULTILINE), run.stdout
    assert "double-booked responders 0" in run.stdout
    assert "calls in an unknown state 0" in run.stdout
    assert re.search(r"Bare FastAPI POST, same client: \d+ requests/s", run.stdout)
