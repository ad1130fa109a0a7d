"""Where the benchmark's responders and calls are: a synthetic county.

When the shared sample of real Montgomery County 911 calls is there, responders
and calls are placed within about 1 km of real call locations, so the density
(dense boroughs, empty farmland) looks like a real county's. Otherwise the
dispatch-decision benchmark spreads them uniformly over the same box, and the
load and cost benchmarks place them around one point (`load_seed`), saying so
(`population_note`). The sample is read in place, never copied.
"""

import csv
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dispatch.plan import RoleNeed, roles_of
from dispatch.programme import CallFacts, apply_programme, prepare_programme
from dispatch.ranking import CallSite, Candidate
from models.programme import today_document, validate_programme
from models.vocabulary import Category, ResponderKind

# The shared data sits beside the checkout (`../shared`); a checkout elsewhere (a
# baseline's worktree in /tmp) names it with CORESPOND_BENCH_SAMPLE, or its runs
# place everyone around one point: another workload, not to be compared.
MONTCO_SAMPLE = Path(
    os.environ.get("CORESPOND_BENCH_SAMPLE")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "montco-911-sample.csv"
)
LAT_RANGE = (39.98, 40.42)
LON_RANGE = (-75.71, -75.02)
JITTER_M = 1_000.0
METRES_PER_DEGREE = 111_195.0

# The benchmark's calls all happen on this day; certifications are set around it.
ON = date(2025, 3, 1)

SECOND_LANGUAGES = (("es", 0.20), ("vi", 0.04), ("zh", 0.03))
CALL_LANGUAGES = (("es", 0.15), ("vi", 0.05), ("zh", 0.05))  # the rest state none
CLINICIAN_SKILLS = (("substance_use", 0.35), ("suicide_risk", 0.35))


@dataclass(frozen=True, slots=True)
class Classification:
    """What the dispatcher said about a call."""

    category: Category
    weapon: bool = False
    violence: bool = False
    medical: bool = False


_TODAY = prepare_programme(validate_programme(today_document()))
_SOMETIME = datetime(2026, 6, 1, 12, tzinfo=UTC)


def plan_roles(site: CallSite, c: Classification) -> tuple[RoleNeed, ...]:
    """The roles the default programme (today's plan) gives the call."""
    facts = CallFacts(
        category=c.category,
        priority=2,
        lat=site.lat,
        lon=site.lon,
        at=_SOMETIME,
        weapon=c.weapon,
        violence=c.violence,
        medical=c.medical,
    )
    return roles_of(apply_programme(_TODAY, facts).seats)


@dataclass(frozen=True, slots=True)
class BenchCall:
    """One call of the benchmark: where and what the dispatcher said about it."""

    site: CallSite
    classification: Classification


def load_call_locations(path: Path = MONTCO_SAMPLE) -> list[tuple[float, float]] | None:
    """The (lat, lon) of every call in the sample inside the county box, or None if absent."""
    if not path.is_file():
        return None
    locations = []
    with path.open(newline="") as f:
        for row in csv.reader(f):
            try:
                lat, lon = float(row[0]), float(row[1])
            except (IndexError, ValueError):
                continue
            if LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]:
                locations.append((lat, lon))
    return locations or None


def population_note(found: Sequence[tuple[float, float]] | None) -> str:
    """What a run's people and calls were placed around (`found`: what
    `load_call_locations` read), for its report: runs placed differently are
    different workloads."""
    if found:
        return f"Placed around {len(found):,} real call locations ({MONTCO_SAMPLE.name})"
    return (
        f"Placed around ONE point: {MONTCO_SAMPLE} was not found (set "
        "CORESPOND_BENCH_SAMPLE); not comparable with runs on the real locations"
    )


def place(rng: random.Random, anchors: Sequence[tuple[float, float]] | None) -> tuple[float, float]:
    """A position within `JITTER_M` of a random anchor (uniform over the disk), or
    uniform over the county box when there are no anchors."""
    if not anchors:
        return rng.uniform(*LAT_RANGE), rng.uniform(*LON_RANGE)
    lat, lon = rng.choice(anchors)
    metres, bearing = JITTER_M * math.sqrt(rng.random()), rng.uniform(0.0, 2 * math.pi)
    north, east = metres * math.cos(bearing), metres * math.sin(bearing)
    return (
        lat + north / METRES_PER_DEGREE,
        lon + east / (METRES_PER_DEGREE * math.cos(math.radians(lat))),
    )


def _drawn(rng: random.Random, odds: Sequence[tuple[str, float]]) -> frozenset[str]:
    return frozenset(name for name, p in odds if rng.random() < p)


def _one_of(rng: random.Random, odds: Sequence[tuple[str, float]]) -> str | None:
    draw = rng.random()
    for name, p in odds:
        if draw < p:
            return name
        draw -= p
    return None


def _cit_until(rng: random.Random) -> date | None:
    """80 % certified on `ON`, 10 % expired, 10 % never certified."""
    draw = rng.random()
    if draw < 0.8:
        return ON + timedelta(days=rng.randint(0, 1_095))
    if draw < 0.9:
        return ON - timedelta(days=rng.randint(1, 365))
    return None


def make_responders(
    n: int, rng: random.Random, anchors: Sequence[tuple[float, float]] | None
) -> list[Candidate]:
    """`n` available responders, alternately officers and clinicians; everyone speaks
    English, some a second language; clinicians may have preferred skills."""
    people = []
    for i in range(n):
        lat, lon = place(rng, anchors)
        languages = frozenset({"en"}) | _drawn(rng, SECOND_LANGUAGES)
        if i % 2 == 0:
            kind, until, skills = ResponderKind.officer, _cit_until(rng), frozenset[str]()
        else:
            kind, until, skills = ResponderKind.clinician, None, _drawn(rng, CLINICIAN_SKILLS)
        people.append(
            Candidate(
                id=f"{kind.value}-{i:06d}",
                kind=kind,
                lat=lat,
                lon=lon,
                cit_certified_until=until,
                languages=languages,
                skills=skills,
            )
        )
    return people


def make_calls(
    n: int, rng: random.Random, anchors: Sequence[tuple[float, float]] | None
) -> list[BenchCall]:
    """`n` weapon calls (so each plans a CIT officer and a clinician) of mixed categories."""
    calls = []
    for _ in range(n):
        lat, lon = place(rng, anchors)
        language = _one_of(rng, CALL_LANGUAGES)
        calls.append(
            BenchCall(
                site=CallSite(lat=lat, lon=lon, on=ON, language=language),
                classification=Classification(category=rng.choice(list(Category)), weapon=True),
            )
        )
    return calls
