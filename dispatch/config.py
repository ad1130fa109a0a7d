"""What the decisions are made with: one value built from the settings at start-up."""

from collections.abc import Callable
from dataclasses import dataclass, field

from dispatch.ranking import Preferences
from dispatch.travel import GeodesicEstimator, TravelEstimator


def _ignore(_seconds: float) -> None:
    return None


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    estimator: TravelEstimator = field(default_factory=GeodesicEstimator)
    prefs: Preferences = field(default_factory=Preferences)
    observe_decision: Callable[[float], None] = _ignore  # seconds one choice took
