"""The programme-rules benchmark still runs its three documents on the calls' real
places and times, and the prepared areas answer as a plain polygon test (no timings judged)."""

import re
from pathlib import Path

from tests.bench.run import run_bench

# Where and when: two calls downtown in the example's hours (a Monday morning), one
# downtown at night, one north of it, and a row that is no call.
SAMPLE = """\
40.12,-75.34,EMS: OVERDOSE,2026-11-23 10:00,NORRISTOWN,MAIN ST
40.11,-75.35,EMS: ALTERED MENTAL STATUS,2026-11-23 10:30,NORRISTOWN,MARKHAM ST
40.12,-75.34,EMS: FALL VICTIM,2026-11-23 02:00,NORRISTOWN,MAIN ST
40.20,-75.34,Traffic: DISABLED VEHICLE -,2026-11-23 10:00,WORCESTER,SKIPPACK PIKE
lat,lng,title,timeStamp,twp,addr
"""


def _counts(out: str, document: str) -> tuple[int, int, int, int]:
    """Outside hours, outside area, and the area answers that agreed, of how many."""
    row = re.search(
        rf"^\| {document} \| [^|]+ \| [^|]+ \| (\d+) \| (\d+) \| (\d+)/(\d+) \|$", out, re.MULTILINE
    )
    assert row, out
    hours, area, agree, calls = (int(g) for g in row.groups())
    return hours, area, agree, calls


def test_calls_at_real_places_reach_the_examples_downtown_rule(tmp_path: Path) -> None:
    sample = tmp_path / "calls.csv"
    sample.write_text(SAMPLE)
    out = run_bench(
        "bench.plan_decision", "--quick", timeout_s=120, env={"CORESPOND_BENCH_SAMPLE": str(sample)}
    )
    assert out.startswith("Placed at 4 real call locations and times (calls.csv)"), out
    matched = re.search(r"^example, calls by the rule that matched: (.*)$", out, re.MULTILINE)
    assert matched and "HEART downtown by day" in matched.group(1), out
    hours, area, _, _ = _counts(out, "example")
    assert hours > 0 and area > 0, out  # the night call and the call north of downtown
    for document in ("today", "example", "many areas"):
        _, _, agree, calls = _counts(out, document)
        assert agree == calls == 200, out
    assert re.search(r"^verdict: a plan within 200 µs at the median .*: (met|missed)$", out, re.M)


def test_without_the_sample_a_run_says_its_calls_are_not_real_ones(tmp_path: Path) -> None:
    missing = tmp_path / "no.csv"
    out = run_bench(
        "bench.plan_decision",
        "--calls",
        "50",
        timeout_s=120,
        env={"CORESPOND_BENCH_SAMPLE": str(missing)},
    )
    assert out.startswith(f"Placed uniformly over the county box and a week: {missing} was not"), (
        out
    )
    _, _, agree, calls = _counts(out, "many areas")
    assert agree == calls == 50, out
