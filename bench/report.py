"""The benchmark's figures, its tables (Markdown, so they paste into bench/README.md)
and its verdicts on the targets."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TARGET_SIZE = 100_000
TARGET_US = 1_000.0
TARGET_VS_NUMPY = 10.0
TARGET_VS_GEOPY = 100.0


@dataclass(frozen=True, slots=True)
class Spread:
    """Wall-clock microseconds per decision over the calls measured."""

    median_us: float
    p95_us: float
    p99_us: float
    mean_us: float

    @classmethod
    def of(cls, times_ns: Sequence[int]) -> "Spread":
        us = np.asarray(times_ns, np.float64) / 1e3
        median, p95, p99 = np.percentile(us, [50, 95, 99])
        return cls(float(median), float(p95), float(p99), float(us.mean()))


@dataclass(frozen=True, slots=True)
class GroupMedian:
    """The decision's median over the calls of one kind (see `call_group`)."""

    group: str
    calls: int
    median_us: float


@dataclass(frozen=True, slots=True)
class SizeResult:
    """One population size: the three contestants' times and whether they agreed."""

    size: int
    calls: int
    decision: Spread
    numpy: Spread
    geopy: Spread  # over `geopy_calls` calls only
    geopy_calls: int
    numpy_agree: int  # calls on which the numpy scan chose as the decision did
    geopy_agree: int  # of the `geopy_calls` first calls
    fetched: float  # candidates the index handed the search, per decision (mean)
    exact: float  # exact geodesic estimates per decision (mean)
    groups: tuple[GroupMedian, ...]
    disagreements: tuple[str, ...]

    @property
    def vs_numpy(self) -> float:
        """How many times faster the decision is than the numpy scan (medians)."""
        return self.numpy.median_us / self.decision.median_us

    @property
    def vs_geopy(self) -> float:
        """How many times faster the decision is than the geopy scan (medians)."""
        return self.geopy.median_us / self.decision.median_us


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def main_table(results: Sequence[SizeResult]) -> list[str]:
    """N, the decision's median/p95/p99, the scans, the speed-ups and the agreement."""
    header = (
        "responders",
        "decision median µs",
        "p95 µs",
        "p99 µs",
        "fetched / exact a decision",
        "numpy scan median µs",
        "geopy scan ms a decision (calls)",
        "x numpy",
        "x geopy",
        "same choice (numpy, geopy)",
    )
    rows = [
        (
            f"{r.size:,}",
            f"{r.decision.median_us:,.0f}",
            f"{r.decision.p95_us:,.0f}",
            f"{r.decision.p99_us:,.0f}",
            f"{r.fetched:,.0f} / {r.exact:.1f}",
            f"{r.numpy.median_us:,.0f}",
            f"{r.geopy.median_us / 1e3:,.0f} ({r.geopy_calls})",
            f"{r.vs_numpy:,.1f}x",
            f"{r.vs_geopy:,.0f}x",
            f"{r.numpy_agree}/{r.calls}, {r.geopy_agree}/{r.geopy_calls}",
        )
        for r in results
    ]
    return markdown(header, rows)


def group_table(results: Sequence[SizeResult]) -> list[str]:
    """The decision's median µs by kind of call (number of calls in brackets)."""
    names = sorted({g.group for r in results for g in r.groups})
    rows = []
    for r in results:
        by_name = {g.group: g for g in r.groups}
        cells = [
            f"{by_name[n].median_us:,.0f} ({by_name[n].calls})" if n in by_name else "-"
            for n in names
        ]
        rows.append([f"{r.size:,}", *cells])
    return markdown(["responders", *names], rows)


def cost_lines(results: Sequence[SizeResult], pair_us: float) -> list[str]:
    """A profile-free split of the mean decision: the exact geodesics, and the rest."""
    lines = []
    for r in results:
        geodesic_us = r.exact * pair_us
        lines.append(
            f"{r.size:>9,}: mean {r.decision.mean_us:,.0f} µs = {r.exact:.1f} geodesics "
            f"x {pair_us:.0f} µs ({geodesic_us / r.decision.mean_us:.0%}) + search over "
            f"{r.fetched:,.0f} fetched candidates, h3 and plan "
            f"({r.decision.mean_us - geodesic_us:,.0f} µs)"
        )
    return lines


def verdicts(results: Sequence[SizeResult]) -> list[str]:
    """Each target (the issue's and DESIGN.md's), met or missed, at 100,000 responders."""
    at = next((r for r in results if r.size == TARGET_SIZE), None)
    if at is None:
        return [f"targets not judged: no run at {TARGET_SIZE:,} responders"]

    def verdict(ok: bool) -> str:
        return "MET   " if ok else "MISSED"

    d = at.decision
    return [
        f"{verdict(d.median_us < TARGET_US)} decision under 1 ms (median): {d.median_us:,.0f} µs",
        f"{verdict(d.p99_us < TARGET_US)} decision under 1 ms (p99): {d.p99_us:,.0f} µs",
        f"{verdict(at.vs_numpy >= TARGET_VS_NUMPY)} at least 10x faster than the numpy scan "
        f"(medians): {at.vs_numpy:,.1f}x",
        f"{verdict(at.vs_geopy >= TARGET_VS_GEOPY)} at least 100x faster than a geopy scan of "
        f"everyone (medians): {at.vs_geopy:,.0f}x",
        f"{verdict(not at.disagreements)} same choice as both scans: "
        f"{at.numpy_agree}/{at.calls} and {at.geopy_agree}/{at.geopy_calls}",
    ]
