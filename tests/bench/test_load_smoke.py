"""The load benchmark still runs end to end, and what it checks still holds (no timings
judged: those belong in bench/README.md)."""

import json
import re
from pathlib import Path

from tests.bench.run import run_bench
from tests.conftest import POSTGRES_ADMIN_URL, on_postgres


def test_the_quick_load_run_completes_and_nobody_is_double_booked(tmp_path: Path) -> None:
    """On the test run's backend: a SQLite file, or a throwaway PostgreSQL database."""
    backend = ["--postgres", POSTGRES_ADMIN_URL] if on_postgres() else []
    samples = tmp_path / "steady.json"
    out = run_bench(
        "bench.load",
        *("--quick", "--webhooks", "2", "--sta024", "2", "--samples", str(samples)),
        *("--busy-beside", "0.05"),
        *backend,
        timeout_s=300,
    )
    assert "20 of 20 consoles connected (0 console errors)" in out
    assert re.search(r"^Placed around ", out, re.M), out  # which workload it was
    steady = re.search(r"\| steady \| 5 \| (\d+)/(\d+) \|.*\| (\d+) \| (\d+) \|", out)
    assert steady is not None, out
    created, posted, offers, missing = map(int, steady.groups())
    assert created == posted == 10 and offers > 0 and missing == 0
    # what bench.series pools: the same steady phase, sample by sample
    steady_samples = json.loads(samples.read_text())
    assert len(steady_samples["post_ms"]) == 10 and steady_samples["never_arrived"] == 0
    assert len(steady_samples["offer_ms"]) == offers and min(steady_samples["offer_ms"]) > 0
    assert steady_samples["cpu"]["server"] > 0 and steady_samples["cpu"]["workers"] > 0
    assert re.search(r"\| steady \|.*\| \d+% \(\d+%\) \|$", out, re.MULTILINE), out
    inside = re.search(
        r"^\| steady \| ([\d,]+) · [\d.]+ ms · [\d.]+% \| ([\d.]+) ms · \d+% \| "
        r"(?:([\d,]+) · |- \|)",
        out,
        re.M,
    )
    assert inside is not None, out  # the server's own metrics: writes, their work, batches
    writes, work_ms = (float(n.replace(",", "")) for n in inside.groups()[:2])
    assert writes >= posted and work_ms > 0
    if on_postgres():  # a write is its own transaction: no batches
        assert inside.group(3) is None, out
    else:
        assert 1 <= float(inside.group(3).replace(",", "")) <= writes
    # one probe of the search for the highest rate within budget: below 5 calls/s if
    # the steady phase missed the budget, above it if it held
    probe = re.search(r"^\| probe (\d+)/s \| \d+ \| (\d+)/(\d+) \|", out, re.M)
    assert probe is not None, out
    rate, created, posted = map(int, probe.groups())
    assert rate in (3, 10) and created == posted == rate  # 2.5 rounds up
    highest = re.search(
        r"^Highest rate with POST→offer p99 ≤ 25 ms: (\d+) calls/s \(held at ([\d, ]+|none); "
        r"missed at ([\d, ]+|none)\)$",
        out,
        re.M,
    )
    assert highest is not None, out
    held, missed = ({r for r in group.split(", ") if r != "none"} for group in highest.groups()[1:])
    assert held | missed == {"5", str(rate)}, out  # the steady phase and the probe, judged
    # the search chose its probe by the verdict the report gives the steady phase
    assert (rate == 10) == ("5" in held), out
    assert "double-booked responders 0" in out
    assert "calls in an unknown state 0" in out
    assert re.search(r"Bare FastAPI POST, same client: \d+ requests/s", out)
    # what the issue asks each run to report besides latency: the intake against the
    # baseline, and the server's peak memory
    ratios = re.search(r"sustained / bare = ([\d.]+), closed-loop / bare = ([\d.]+) ", out)
    assert ratios is not None and float(ratios.group(2)) > 0, out
    assert re.search(r"^Server peak RSS: [1-9]\d* MB$", out, re.M), out
    # the CAD side: every webhook delivery in order, every subscriber notified, none
    # ended or refused (its fate would follow the sizes)
    cad = re.search(
        r"^CAD side: 2 webhook endpoints .*: webhook deliveries (\d+) \((\d+)-(\d+) an "
        r"endpoint, 0 out of order\); STA-024 notifications (\d+) \((\d+)-\d+ a subscriber\), "
        r"EIDOs (\d+) \((\d+)-\d+ a subscriber\), [\d.]+ kB an EIDO as sent$",
        out,
        re.M,
    )
    assert cad is not None, out
    deliveries, fewest, most, notes, least_notes, _, least_eidos = map(int, cad.groups())
    assert fewest > 0 and most <= deliveries and notes > 0, out
    assert least_notes > 0 and least_eidos > 0, out
    # the CPU besides the server's, and the wait for quiet (the CAD side's processes and
    # the server's workers start just before the steady phase)
    assert re.search(
        r"^CPU over the steady phase besides the server's, in cores: its workers "
        r"\(webhook delivery, EIDO builder\) \d+%, the CAD side's processes \d+%$",
        out,
        re.M,
    ), out
    # the calibration arm's busy loop ran beside the steady phase, and was stopped
    assert re.search(
        r"^A busy loop beside the steady phase \(bench.busy, the idle class, 5% asked\): "
        r"\d+% of a core$",
        out,
        re.M,
    ), out
    assert "beside" in steady_samples["cpu"]
    assert re.search(r"^Quiet before the steady phase .*: after \d+ s, [\d.]+ s of CPU", out, re.M)
