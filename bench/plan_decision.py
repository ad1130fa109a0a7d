"""The programme-rules decision benchmark (issue 19: "applying the rules must not
slow intake").

Per call, for three programme documents side by side: today's rules
(`today_document`, the baseline), the issue's example (a `downtown` area with
hours) and a "many areas" document (50 rules, each with its own tile of the
county and its own hours, then a catch-all). It times what intake does for a
call, `apply_programme` then `eligible_rules`, and `apply_programme` alone, each
wall-clock from `time.perf_counter_ns`, and `prepare_programme` once per
document. Calls take their place and time from real 911 calls when the shared
sample is there; category, priority, age group and flags are drawn from a
seeded RNG. Every area answer the prepared index gave is checked against a
plain polygon test, and the run exits 1 if one differs; the budget (a plan
within 0.2 ms at the median) is reported, never asserted.

    python -m bench.plan_decision [--calls 5000] [--seed 2025] [--quick]
"""

import argparse
import csv
import gc
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
import shapely.geometry
import yaml

from dispatch.programme import (
    CallFacts,
    Outside,
    PreparedProgramme,
    apply_programme,
    eligible_rules,
    prepare_programme,
)
from models.programme import today_document, validate_programme
from models.vocabulary import Category

# The same sample, found the same way, as bench/population.py's.
SAMPLE = Path(
    os.environ.get("CORESPOND_BENCH_SAMPLE")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "montco-911-sample.csv"
)
LAT_RANGE, LON_RANGE = (39.98, 40.42), (-75.71, -75.02)
NEW_YORK = ZoneInfo("America/New_York")  # the sample's timestamps are the county's clock
CALLS, QUICK_CALLS = 5_000, 200
BUDGET_US = 200.0
FLAG_ODDS = {"weapon": 0.10, "violence": 0.10, "medical": 0.15}
AGE_GROUPS = (None, None, "youth", "adult", "older_adult")

# The example, as written (issue 19), as the tests read it too.
EXAMPLE_YAML = (Path(__file__).parents[1] / "docs/programmes/example.yaml").read_text()

TILES = (10, 5)  # 10 columns (longitude) by 5 rows (latitude): 50 areas
TILE_HOURS = (
    {"mon-sun": "07:00-23:00"},
    {"mon-fri": "08:00-18:00"},
    {"mon-sun": "00:00-24:00"},
    {"mon-fri": "18:00-24:00", "sat-sun": "00:00-12:00"},
    {"sat-sun": "00:00-24:00"},
)

Place = tuple[float, float, datetime]  # lat, lon, when


def load_places(path: Path = SAMPLE) -> list[Place] | None:
    """Where and when each call of the sample happened, or None without the file."""
    if not path.is_file():
        return None
    places = []
    with path.open(newline="") as f:
        for row in csv.reader(f):
            try:
                lat, lon = float(row[0]), float(row[1])
                at = datetime.strptime(row[3], "%Y-%m-%d %H:%M").replace(tzinfo=NEW_YORK)
            except (IndexError, ValueError):
                continue
            if LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]:
                places.append((lat, lon, at))
    return places or None


def make_calls(n: int, rng: random.Random, places: Sequence[Place] | None) -> list[CallFacts]:
    """`n` calls at the sample's places and times (uniform over the county box and a
    week without it); what was said of each is drawn."""
    calls = []
    for _ in range(n):
        if places:
            lat, lon, at = rng.choice(places)
        else:
            lat, lon = rng.uniform(*LAT_RANGE), rng.uniform(*LON_RANGE)
            at = datetime(2026, 11, 23, tzinfo=NEW_YORK) + timedelta(minutes=rng.randrange(10_080))
        flags = {flag: rng.random() < p for flag, p in FLAG_ODDS.items()}
        calls.append(
            CallFacts(
                category=rng.choice(list(Category)),
                priority=rng.randint(1, 4),
                lat=lat,
                lon=lon,
                at=at,
                age_group=rng.choice(AGE_GROUPS),
                **flags,
            )
        )
    return calls


def many_areas_document() -> dict[str, Any]:
    """50 rules, each for its own tile of the county box (the sample's extent) and its
    own hours, in the tiles' order (west to east, south to north), then a catch-all."""
    (south, north), (west, east) = LAT_RANGE, LON_RANGE
    cols, rows = TILES
    width, height = (east - west) / cols, (north - south) / rows
    areas, rules = {}, []
    for i in range(cols * rows):
        row, col = divmod(i, cols)
        x0, y0 = west + col * width, south + row * height
        x1, y1 = x0 + width, y0 + height
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        areas[f"tile_{i:02}"] = {"type": "Polygon", "coordinates": [ring]}
        rules.append(
            {
                "name": f"tile {i:02}",
                "when": {"area": f"tile_{i:02}", "hours": TILE_HOURS[i % len(TILE_HOURS)]},
                "send": ("heart", "co_response")[i % 2],
            }
        )
    example = yaml.safe_load(EXAMPLE_YAML)
    rules.append({"name": "everything else", "send": "cit_officer"})
    return {
        "timezone": "America/New_York",
        "areas": areas,
        "teams": example["teams"],
        "rules": rules,
    }


@dataclass(frozen=True, slots=True)
class Spread:
    median_us: float
    p99_us: float
    max_us: float

    @classmethod
    def of(cls, times_ns: Sequence[int]) -> "Spread":
        us = np.asarray(times_ns, dtype=float) / 1e3
        return cls(float(np.median(us)), float(np.percentile(us, 99)), float(us.max()))

    def cells(self) -> str:
        return f"{self.median_us:.1f} / {self.p99_us:.1f} / {self.max_us:.1f}"


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    rules: int
    areas: int
    prepare_ms: float
    intake: Spread  # apply_programme + eligible_rules
    apply: Spread
    reached: list[int]  # per call: the matched rule's position, 1-based
    area_tests: list[int]  # per call: the areas its walk tested
    intake_ns: list[int]
    matched: Counter[str]
    outside: Counter[Outside]
    agree: int  # calls whose every area answer matched a plain polygon test


def timed(calls: Sequence[CallFacts], decide: Callable[[CallFacts], object]) -> list[int]:
    gc.collect()
    times = []
    for call in calls:
        start = time.perf_counter_ns()
        decide(call)
        times.append(time.perf_counter_ns() - start)
    return times


def measure(name: str, document: dict[str, Any], calls: Sequence[CallFacts]) -> Result:
    programme = validate_programme(document)
    start = time.perf_counter_ns()
    prepared = prepare_programme(programme)
    prepare_ms = (time.perf_counter_ns() - start) / 1e6
    position = {rule.name: i + 1 for i, rule in enumerate(programme.rules)}
    area_of = {r.name: r.when.area for r in programme.rules if r.when and r.when.area}
    plain = {n: shapely.geometry.shape(a.model_dump()) for n, a in programme.areas.items()}
    walks = [eligible_rules(prepared, call) for call in calls]  # also warms up
    tested = [
        [e for e in walk if e.rule in area_of and e.outside != Outside.outside_hours]
        for walk in walks
    ]

    def intake(call: CallFacts) -> None:
        apply_programme(prepared, call)
        eligible_rules(prepared, call)

    intake_ns = timed(calls, intake)
    return Result(
        name=name,
        rules=len(programme.rules),
        areas=len(programme.areas),
        prepare_ms=prepare_ms,
        intake=Spread.of(intake_ns),
        apply=Spread.of(timed(calls, lambda call: apply_programme(prepared, call))),
        reached=[position[walk[-1].rule] for walk in walks],
        area_tests=[len(t) for t in tested],
        intake_ns=intake_ns,
        matched=Counter(walk[-1].rule for walk in walks),
        outside=Counter(e.outside for walk in walks for e in walk if e.outside),
        agree=sum(
            all(_plain_inside(plain[area_of[e.rule]], c) == (e.outside is None) for e in t)
            for c, t in zip(calls, tested, strict=True)
        ),
    )


def _plain_inside(polygon: Any, call: CallFacts) -> bool:
    """The area test done the plain way: an unprepared polygon covers the point."""
    return bool(polygon.covers(shapely.geometry.Point(call.lon, call.lat)))


@dataclass(frozen=True, slots=True)
class EveryArea:
    """Per call, a test of every area of the programme (the design the issue rules
    out), one scalar test at a time and in one vectorised call."""

    one_by_one: Spread
    vectorised: Spread

    @classmethod
    def of(cls, prepared: PreparedProgramme, calls: Sequence[CallFacts]) -> "EveryArea":
        areas = list(prepared.areas.values())
        together = np.array(areas)
        return cls(
            Spread.of(
                timed(calls, lambda c: [shapely.intersects_xy(a, c.lon, c.lat) for a in areas])
            ),
            Spread.of(timed(calls, lambda c: shapely.intersects_xy(together, c.lon, c.lat))),
        )


def report(results: Sequence[Result], calls: int, every_area: EveryArea) -> list[str]:
    lines = [
        "| document | rules | areas | prepare ms | apply + eligible µs median / p99 / max "
        "| apply alone µs median / p99 / max |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.name} | {r.rules} | {r.areas} | {r.prepare_ms:.2f} | {r.intake.cells()} "
        f"| {r.apply.cells()} |"
        for r in results
    ]
    lines += [
        "",
        "| document | rule matched at, mean / max | areas tested a call, mean / max "
        "| rules outside hours, all calls | outside area | area answers as a plain test |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.name} | {statistics.fmean(r.reached):.1f} / {max(r.reached)} "
        f"| {statistics.fmean(r.area_tests):.1f} / {max(r.area_tests)} "
        f"| {r.outside[Outside.outside_hours]} | {r.outside[Outside.outside_area]} "
        f"| {r.agree}/{calls} |"
        for r in results
    ]
    for r in results[1:2]:
        said = ", ".join(f"{rule} {n}" for rule, n in r.matched.most_common())
        lines += ["", f"{r.name}, calls by the rule that matched: {said}"]
    many = results[-1]
    lines += ["", f"{many.name}, by the rule that matched: calls, areas tested (mean), median µs:"]
    for low, high in ((1, 10), (11, 20), (21, 30), (31, 40), (41, many.rules)):
        picked = [
            (ns, tests)
            for ns, tests, at in zip(many.intake_ns, many.area_tests, many.reached, strict=True)
            if low <= at <= high
        ]
        ns, tests = [p[0] for p in picked], [p[1] for p in picked]
        median = f"{statistics.median(ns) / 1e3:.1f}" if ns else "-"
        mean_tests = f"{statistics.fmean(tests):.1f}" if tests else "-"
        lines.append(f"  rules {low}-{high}: {len(ns)} calls, {mean_tests} areas, {median} µs")
    lines += [
        f"  for scale, all {many.areas} areas a call, one intersects_xy each: "
        f"{every_area.one_by_one.cells()} µs median / p99 / max;",
        f"  all {many.areas} in one vectorised intersects_xy: {every_area.vectorised.cells()} µs",
    ]
    worst = max(r.intake.median_us for r in results)
    verdict = "met" if worst <= BUDGET_US else "missed"
    medians = ", ".join(f"{r.name} {r.intake.median_us:.1f}" for r in results)
    lines += [
        "",
        f"verdict: a plan within {BUDGET_US:.0f} µs at the median (apply + eligible): "
        f"{medians} µs: {verdict}",
    ]
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_decision", description=__doc__)
    parser.add_argument("--calls", type=int, help=f"calls per document ({CALLS})")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CALLS} calls: a smoke run")
    args = parser.parse_args(argv)
    args.calls = args.calls or (QUICK_CALLS if args.quick else CALLS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    places = load_places()
    calls = make_calls(args.calls, random.Random(f"{args.seed}-calls"), places)
    if places:
        print(f"Placed at {len(places):,} real call locations and times ({SAMPLE.name})", end="")
    else:
        print(f"Placed uniformly over the county box and a week: {SAMPLE} was not found", end="")
    print(f"; {args.calls:,} calls a document, seed {args.seed}", flush=True)
    documents = {
        "today": today_document(),
        "example": yaml.safe_load(EXAMPLE_YAML),
        "many areas": many_areas_document(),
    }
    results = []
    for name, document in documents.items():
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        results.append(measure(name, document, calls))
    many = prepare_programme(validate_programme(documents["many areas"]))
    every_area = EveryArea.of(many, calls)
    print("\n".join(["", *report(results, args.calls, every_area)]))
    wrong = [r.name for r in results if r.agree != args.calls]
    for name in wrong:
        print(f"DISAGREE {name}: the prepared index and a plain polygon test", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
