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
    once it has exited 0."""
    run = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout
