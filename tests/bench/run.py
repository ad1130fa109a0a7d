"""Running a benchmark's command as a user would, from the project's root."""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(
    module: str, *args: str, timeout_s: float, env: Mapping[str, str] | None = None
) -> str:
    """`python -m <module> <args>` (with `env` added to the environment); its output,
    once it has exited 0. In a process group of its own, as a shell runs a command:
    the load bench measures its own group's CPU (`bench.load_intake.settle`), which
    must not be the test run's, nor the other test workers'."""
    run = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        start_new_session=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout
