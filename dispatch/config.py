"""What the decisions are made with: one value built from the settings at start-up."""

from collections.abc import Callable
from dataclasses import dataclass, field

from dispatch.ranking import Preferences
from dispatch.roads import RoadTimes
from dispatch.travel import GeodesicEstimator, TravelEstimator


def _ignore(_seconds: float) -> None:
    return None


def _ignore_why(_why: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    estimator: TravelEstimator = field(default_factory=GeodesicEstimator)
    roads: RoadTimes | None = None  # road travel, asked before the write; None: geodesic
    routing_timeout_s: float = 0.2  # the longest a dispatch's routing goes on (seats, batches)
    prefs: Preferences = field(default_factory=Preferences)
    observe_decision: Callable[[float], None] = _ignore  # seconds one choice took
    observe_routing: Callable[[float], None] = _ignore  # seconds a call's road ranking took
    routing_failed: Callable[[str], None] = _ignore_why  # a call fell back to geodesic: why
    # Repeat contacts at intake: the window a new call is counted against, and the
    # server's key over each agency's secret for hashing persons ("": the secret alone).
    repeat_window_days: int = 90
    person_key: str = field(default="", repr=False)
