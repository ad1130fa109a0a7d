"""The outcome-report benchmark still seeds a year, reads every grouping both ways and
says the verdicts (no timings judged)."""

import re

from tests.bench.run import run_bench

GROUPINGS = ["none", "week", "month", "team", "category", "area"]


def test_the_report_run_reads_each_grouping_for_a_month_and_a_year() -> None:
    out = run_bench(
        "bench.outcome_report", "--calls", "600", "--responders", "6", "--repeat", "1",
        timeout_s=300,
    )  # fmt: skip
    rows = re.findall(r"^\| (month|year) \| (\w+) \| \d+ \| \d+ \|$", out, re.MULTILINE)
    assert rows == [(p, g) for p in ("month", "year") for g in GROUPINGS], out
    for period, budget in (("month", 1), ("year", 5)):
        assert re.search(rf"Budget: the {period} within {budget} s on SQLite: (met|MISSED)", out)
