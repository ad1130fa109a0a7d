"""A load run's phases and their verdicts: each phase's POST and POST → offer
latencies, whether it held the budget (DESIGN.md: p99 ≤ 25 ms), and which rate the
search for the highest rate within budget tries next."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.load_intake import Posted

BUDGET_P99_MS = 25.0


@dataclass
class Phase:
    name: str
    rate: float
    posted: list[Posted]
    cpu: float  # the call-taking server's CPU over the phase, in cores
    loop_cpu: float  # of it, its main thread's (the event loop's)
    inside: dict[str, float] = field(default_factory=dict)  # its metrics over the phase
    wall: float = 0.0  # the phase's seconds
    workers_cpu: float = 0.0  # the server's child processes' CPU, in cores
    cad_cpu: float = 0.0  # the CAD side's (bench/load_cad.py), in cores
    beside_cpu: float = 0.0  # a busy loop's beside it (bench/busy.py), in cores


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def post_ms(phase: Phase) -> list[float]:
    return [(p.answered - p.sent) * 1000 for p in phase.posted if p.status == 201]


def offer_ms(phase: Phase, seen: dict[str, float]) -> tuple[list[float], int]:
    """POST → offer on the responder's socket, and how many offers never arrived."""
    latencies, missing = [], 0
    for p in phase.posted:
        for assignment in p.assignments:
            if assignment in seen:
                latencies.append((seen[assignment] - p.sent) * 1000)
            else:
                missing += 1
    return latencies, missing


def within_budget(phase: Phase, seen: dict[str, float]) -> bool:
    """Every call of the phase answered 201, every offer arrived, and POST → offer
    p99 within the budget."""
    offers, missing = offer_ms(phase, seen)
    answered = len(post_ms(phase)) == len(phase.posted)
    return answered and missing == 0 and bool(offers) and pct(offers, 0.99) <= BUDGET_P99_MS


def next_probe(judged: Mapping[float, bool]) -> float | None:
    """The next rate of the search for the highest rate within budget, given the
    rates judged so far (rate → held): twice the highest that held while none above
    it failed; then halfway between the highest that held and the lowest above it that
    did not, to the nearest 5 calls/s (1 when they are 10 or fewer apart); None when
    there is nothing between them. A rate that failed below one that held (runs vary)
    does not bound the search."""
    held = max((rate for rate, ok in judged.items() if ok), default=0.0)
    above = [rate for rate, ok in judged.items() if not ok and rate > held]
    if not above:
        return held * 2 if held else None
    failed = min(above)
    grid = 5.0 if failed - held > 10 else 1.0
    middle = math.floor((held + failed) / 2 / grid + 0.5) * grid  # a half rounds up
    return middle if held < middle < failed else None
