"""The bulk AVL benchmark still applies whole batches and reports both ways (no timings
judged)."""

import re

from tests.bench.run import run_bench

ROWS = ["one batch (parse, validate, write)", "one write each (today's single PUT's write)"]


def test_the_positions_run_applies_every_batch_and_says_the_verdict() -> None:
    out = run_bench(
        "bench.positions_batch", "--batches", "2", "--size", "50", "--units", "300", timeout_s=300
    )
    rows = re.findall(r"^\| (one [^|]+?) \| [\d.]+ \|", out, re.MULTILINE)
    assert rows == ROWS, out
    assert re.search(r"Budget: a batch of 1,000 within 100 ms on SQLite: (met|MISSED)", out), out
