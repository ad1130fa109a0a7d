"""Travel-time estimators: how long a responder needs to reach a call.

An estimator answers two questions: the estimate for one pair (which may be
dear: a geodesic, a routing engine), and a cheap lower bound given a distance no
longer than the pair's geodesic. The search prunes with `NearCall`'s bounds and
asks for full estimates only for the few candidates that could still win.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from geographiclib.geodesic import Geodesic

from models.vocabulary import ResponderKind

EARTH_RADIUS_M = 6_371_008.8
_WGS84 = Geodesic.WGS84
_A = _WGS84.a
_E2 = _WGS84.f * (2 - _WGS84.f)
# Beyond this the local flat-ellipsoid distance is not trusted; a sphere is used.
_FLAT_LIMIT_M = 150_000.0
_RAD = math.pi / 180
_FLAT_LAT_LIMIT = 70.0  # nearer the poles the meridians converge too fast


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Travel:
    distance_m: float
    eta_s: float


class TravelEstimator(Protocol):
    def travel(self, kind: str, origin: Point, dest: Point) -> Travel:
        """The estimate used to rank and to report."""
        ...

    def lower_bound_s(self, kind: str, straight_m: float) -> float:
        """A time no trip can beat whose geodesic length is at least `straight_m`."""
        ...


def geodesic_m(a: Point, b: Point) -> float:
    """The WGS84 geodesic distance: what `geopy.distance.geodesic` answers (geopy
    calls this same geographiclib solver), without geopy's per-call set-up."""
    return float(_WGS84.Inverse(a.lat, a.lon, b.lat, b.lon, Geodesic.DISTANCE)["s12"])


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance on a sphere: within 0.6 % of the geodesic."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class NearCall:
    """Cheap distances from one call, never longer than the geodesic.

    Near the call the ellipsoid is flat enough that north and east offsets,
    scaled by the meridian and prime-vertical radii at the mean latitude, give
    the geodesic to within 1e-4 (d / 100 km)^2 (measured: 8e-5 at 100 km); the
    bound takes twice that off. Farther out than 150 km, or nearer the poles
    than 20 degrees (where meridians converge too fast), a sphere less 1 %.
    """

    __slots__ = ("_lat", "_lon", "_point", "_use_flat")

    def __init__(self, lat: float, lon: float) -> None:
        self._lat, self._lon = lat * _RAD, lon
        self._point = Point(lat, lon)
        self._use_flat = abs(lat) <= _FLAT_LAT_LIMIT

    def approx_m(self, lat: float, lon: float) -> tuple[float, float]:
        """The distance to (lat, lon) and a relative error the geodesic stays within."""
        phi = lat * _RAD
        mean = (phi + self._lat) / 2
        sin_mean = math.sin(mean)
        w = 1 - _E2 * sin_mean * sin_mean
        n = _A / math.sqrt(w)
        d_lon = ((lon - self._lon + 180) % 360 - 180) * _RAD
        flat = math.hypot(n * math.cos(mean) * d_lon, n * (1 - _E2) / w * (phi - self._lat))
        if flat <= _FLAT_LIMIT_M and self._use_flat:
            return flat, 2e-6 + 2e-14 * flat * flat
        return haversine_m(self._point, Point(lat, lon)), 0.01

    def lower_bound_m(self, lat: float, lon: float) -> float:
        metres, error = self.approx_m(lat, lon)
        return max(0.0, metres * (1 - error) - 1e-6)  # a micrometre for rounding at ~0 m


_DEFAULT_SPEEDS: Mapping[str, float] = MappingProxyType(
    # Average urban driving speeds, metres a second: a patrol car under lights, and the
    # civilian teams' cars and vans (clinicians, peers, medics, an agency's own kinds).
    {ResponderKind.officer: 13.4, ResponderKind.clinician: 11.2}
)
_CIVILIAN_MPS = 11.2


@runtime_checkable
class ByDistance(Protocol):
    """An estimator whose time depends on the geodesic distance alone (and the kind),
    so that a distance known to within a relative error gives the time to within it."""

    def eta_s(self, kind: str, metres: float) -> float: ...


@dataclass(frozen=True, slots=True)
class GeodesicEstimator:
    """Geodesic distance (WGS84, as geopy's `geodesic`) times a road-circuity factor
    over a speed per kind."""

    circuity: float = 1.3
    speeds_mps: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_SPEEDS)
    other_mps: float = _CIVILIAN_MPS  # a kind not in speeds_mps

    def travel(self, kind: str, origin: Point, dest: Point) -> Travel:
        metres = geodesic_m(origin, dest)
        return Travel(distance_m=metres, eta_s=self.eta_s(kind, metres))

    def eta_s(self, kind: str, metres: float) -> float:
        return metres * self.circuity / self.speeds_mps.get(kind, self.other_mps)

    def lower_bound_s(self, kind: str, straight_m: float) -> float:
        return straight_m * self.circuity / self.speeds_mps.get(kind, self.other_mps)
