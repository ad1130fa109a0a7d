"""The emergency benchmark still runs end to end, and every emergency and backup offer
it raises arrives (no timings judged: those belong in bench/README.md)."""

import re

from tests.bench.run import run_bench


def test_the_quick_emergency_run_sees_every_emergency_and_backup_offer() -> None:
    out = run_bench("bench.emergency", "--quick", timeout_s=300)
    assert "20 of 20 load consoles connected" in out, out
    for phase in ("quiet", "5 calls/s"):
        row = re.search(
            rf"^\| {re.escape(phase)} \| 3 \| .* \| (\d+) / (\d+) / (\d+) \| \d+% \(\d+%\) \|$",
            out,
            re.M,
        )
        assert row is not None, out
        assert row.groups() == ("0", "0", "0"), out  # nothing missing, nothing refused
    created = re.search(r"^Calls created during the loaded phase: (\d+); ", out, re.M)
    assert created is not None and int(created.group(1)) > 0, out
