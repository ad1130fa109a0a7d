"""bench.series: arms as a user writes them, and what its intervals claim (pooled
offers of synthetic runs whose truth is known; no run of the load bench here)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.load_search import pct as phase_pct
from bench.series import ROOT, Arm, main, pct, ratios

ROUNDS = 8


def runs(rng: np.random.Generator, hours: list[float], scale: float) -> list[dict[str, object]]:
    """One run a round: 750 offers, lognormal as the bench's are, slowed by the hour."""
    return [{"offer_ms": (rng.lognormal(2.2, 0.5, 750) * hour * scale).tolist()} for hour in hours]


def arms(*, hours: list[float], scale: float, seed: int = 1) -> tuple[Arm, Arm]:
    rng = np.random.default_rng(seed)
    base, other = Arm("none", []), Arm("cad", [])
    base.runs, other.runs = runs(rng, hours, 1.0), runs(rng, hours, scale)
    return base, other


def test_an_arm_is_a_name_its_flags_and_perhaps_another_checkout() -> None:
    cad = Arm.parse("cad=--webhooks 3 --sta024 10")
    assert (cad.name, cad.flags, cad.tree) == ("cad", ["--webhooks", "3", "--sta024", "10"], ROOT)
    before = Arm.parse("before@/tmp/wt-base=--steps ''")
    assert (before.name, before.flags, str(before.tree)) == (
        "before",
        ["--steps", ""],
        "/tmp/wt-base",
    )
    with pytest.raises(ValueError, match="NAME=FLAGS or NAME@TREE=FLAGS, not 'cad'"):
        Arm.parse("cad")


def test_percentiles_are_read_as_the_load_bench_reports_a_phase() -> None:
    values = np.random.default_rng(3).lognormal(2.2, 0.5, 751)
    for q in (0.5, 0.95, 0.99):
        assert pct(values, q) == phase_pct(values.tolist(), q)


def test_arms_alike_in_a_drifting_hour_come_out_alike() -> None:
    """Rounds a third of the hour slower than others: drawn for both arms at once, the
    drift cancels in each ratio, and the interval stays within a seventh of 1 (what
    sampling 6,000 offers leaves of a p99)."""
    hours = [1.0, 1.0, 1.4, 1.4, 1.0, 1.2, 1.4, 1.0]
    base, other = arms(hours=hours, scale=1.0)
    for q in (0.95, 0.99):
        point, low, high = ratios(base, other, q)
        assert low <= 1.0 <= high
        assert low > 0.85 and high < 1.15, (point, low, high)


def test_an_arm_a_fifth_slower_is_told_apart() -> None:
    base, other = arms(hours=[1.0, 1.2] * (ROUNDS // 2), scale=1.2)
    for q in (0.95, 0.99):
        point, low, high = ratios(base, other, q)
        assert 1.0 < low <= 1.2 <= high, (point, low, high)


def test_unpaired_rounds_would_hide_what_pairing_finds() -> None:
    """The same slower arm with its rounds shuffled against the baseline's: a slow
    round on one side is no longer met by the same hour on the other, and the interval
    widens; pairing is what makes a tenth visible over eight rounds."""
    hours = [1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5]
    base, other = arms(hours=hours, scale=1.1)
    _, low, high = ratios(base, other, 0.99)
    other.runs = other.runs[1:] + other.runs[:1]  # each round against the other hour
    _, unpaired_low, unpaired_high = ratios(base, other, 0.99)
    assert low > 1.0
    assert unpaired_high - unpaired_low > 2 * (high - low)


def test_a_tree_without_the_shared_data_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "checkout"
    (tree / "bench").mkdir(parents=True)
    (tree / "bench" / "load.py").write_text("")
    with pytest.raises(SystemExit) as ended:
        main(["--arm", "none=", "--arm", f"other@{tree}="])
    assert ended.value.code == 2
    assert "other's tree has no ../shared/data" in capsys.readouterr().err


def test_two_arms_of_one_name_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--arm", "none=", "--arm", "none=--webhooks 3"])
    assert "each its own name" in capsys.readouterr().err


def test_the_busy_loop_beside_a_run_keeps_to_the_idle_class() -> None:
    """bench.busy stands for the listeners' CPU doing nothing: as the server's workers,
    every thread of it yields the core to the server at once (SCHED_IDLE)."""
    busy = subprocess.Popen([sys.executable, "-m", "bench.busy", "0.2"], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while os.sched_getscheduler(busy.pid) != os.SCHED_IDLE:
            assert busy.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        busy.terminate()
        busy.wait(timeout=10)


def test_the_busy_loop_says_what_share_it_takes() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "bench.busy", "1.5"], cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "SHARE (of a core, above 0 and up to 1)" in refused.stderr
