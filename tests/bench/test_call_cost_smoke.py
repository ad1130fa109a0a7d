"""The in-process cost benchmark still runs every step of a call (no timings judged)."""

import re

from tests.bench.run import run_bench


def test_the_call_cost_run_measures_every_step_of_every_call() -> None:
    out = run_bench("bench.call_cost", "--calls", "5", "--responders", "300", timeout_s=300)
    counts = dict(re.findall(r"^\| (\w+) \| (\d+) \|", out, re.MULTILINE))
    assert counts["token"] == counts["intake"] == "5", out
    # Every offer is accepted and taken through to cleared.
    assert int(counts["accept"]) >= 5
    assert counts["accept"] == counts["en_route"] == counts["on_scene"] == counts["cleared"]
    assert "A call's whole life, every step:" in out
