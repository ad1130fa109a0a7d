"""Travel-time estimators: how long a responder needs to reach a call.

An estimator answers two questions: the exact estimate for one pair (which may be
dear: a geodesic, a routing engine), and a cheap lower bound (which must never
exceed the exact answer). The search uses the bound to prune and asks for exact
estimates only for the few candidates that could still win.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from geopy.distance import geodesic

from models.vocabulary import ResponderKind

EARTH_RADIUS_M = 6_371_008.8
# A sphere is off the WGS84 ellipsoid by under 0.6 %; 1 % keeps the bound safe.
_SPHERE_ERROR = 0.99


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Travel:
    distance_m: float
    eta_s: float


class TravelEstimator(Protocol):
    def travel(self, kind: ResponderKind, origin: Point, dest: Point) -> Travel:
        """The estimate used to rank and to report."""
        ...

    def lower_bound_s(self, kind: ResponderKind, straight_m: float) -> float:
        """A time no trip of this straight-line length can beat."""
        ...


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance on a sphere: about 1 µs, within 0.6 % of the geodesic."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


_DEFAULT_SPEEDS: Mapping[ResponderKind, float] = MappingProxyType(
    # Average urban emergency-driving speeds, metres a second.
    {ResponderKind.officer: 13.4, ResponderKind.clinician: 11.2}
)


@dataclass(frozen=True, slots=True)
class GeodesicEstimator:
    """Geodesic distance (geopy, WGS84) times a road-circuity factor over a speed per kind."""

    circuity: float = 1.3
    speeds_mps: Mapping[ResponderKind, float] = field(default_factory=lambda: _DEFAULT_SPEEDS)

    def travel(self, kind: ResponderKind, origin: Point, dest: Point) -> Travel:
        metres = float(geodesic((origin.lat, origin.lon), (dest.lat, dest.lon)).meters)
        return Travel(distance_m=metres, eta_s=metres * self.circuity / self.speeds_mps[kind])

    def lower_bound_s(self, kind: ResponderKind, straight_m: float) -> float:
        return straight_m * _SPHERE_ERROR * self.circuity / self.speeds_mps[kind]
