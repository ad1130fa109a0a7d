"""The embedded road graph: a file that `corespond roads build` makes from an
OpenStreetMap extract, loaded once at start and queried in-process.

One `to_one` call is one reverse Dijkstra search from the call over the reversed
graph (scipy's csgraph, bounded by a time limit), whatever the number of origins.
Asked `within_s`, the limit is that (less the shortest legs to the road), once; an
origin the search does not reach is answered `BEYOND`. Otherwise the limit is a
guess that doubles until every origin is reached.
Each edge weighs `time_ms * 2**26 + length_dm`, integers that a float64 holds
exactly: the search finds the fastest path (ties to the shorter) and its sum
carries that path's length in the low bits, so one search answers both time and
distance, with no predecessor walk. Exact for trips under 37 hours and 6,700 km.
"""

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from geographiclib.geodesic import Geodesic
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from dispatch.roads import BEYOND, RoutingUnavailable
from dispatch.travel import EARTH_RADIUS_M, Point, Travel

FORMAT = "corespond-roads-1"
WEIGHT_SCALE = float(2**26)  # time_ms * WEIGHT_SCALE + length_dm; length_dm < 2**26
_A = Geodesic.WGS84.a
_E2 = Geodesic.WGS84.f * (2 - Geodesic.WGS84.f)
_FLAT_LIMIT_M = 20_000.0  # roads' edges and legs to the road are far shorter
_FLAT_LAT_LIMIT = 70.0
# A first guess at the search's time limit: 1.5x circuity at 10 m/s, plus a minute;
# an origin not reached within it doubles the limit (rare: a river, a highway).
_GUESS_S_PER_M = 0.15
_GUESS_EXTRA_S = 60.0
_UNLIMITED_AFTER_S = 4 * 3600.0

F64 = NDArray[np.float64]


def lengths_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Distances between point pairs (degrees), never shorter than the WGS84 geodesic:
    the road graph's lower bound (geodesic / fastest_mps) rests on it. Below 20 km
    and 70 degrees of latitude, the local flat ellipsoid of `dispatch.travel.NearCall`
    plus its error bound (within 3e-5 of the geodesic); beyond, a sphere plus 1 %.
    Vectorised: geographiclib takes ~20 us a pair in Python, haversine x 1.006 would
    lengthen every road by 0.2-0.8 %."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    mean = (phi1 + phi2) / 2
    sin_mean = np.sin(mean)
    w = 1 - _E2 * sin_mean * sin_mean
    n = _A / np.sqrt(w)
    d_lon = np.radians((lon2 - lon1 + 180) % 360 - 180)
    flat = np.hypot(n * np.cos(mean) * d_lon, n * (1 - _E2) / w * (phi2 - phi1))
    bounded = flat * (1 + 1e-5 + 3e-14 * flat * flat)  # measured: 5e-4 at 148 km, 59 S
    h = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(d_lon / 2) ** 2
    sphere = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))) * 1.01
    near = (flat <= _FLAT_LIMIT_M) & (np.abs(lat1) <= _FLAT_LAT_LIMIT)
    near &= np.abs(lat2) <= _FLAT_LAT_LIMIT
    return np.asarray(np.where(near, bounded, sphere), dtype=np.float64)


def _unit_xyz(lat: F64, lon: F64) -> F64:
    """Points on a sphere of the Earth's radius: the nearest by chord is the nearest
    on the ground, anywhere, with no projection to choose."""
    phi, lam = np.radians(lat), np.radians(lon)
    cos_phi = np.cos(phi)
    xyz = np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])
    return np.asarray(xyz * EARTH_RADIUS_M, dtype=np.float64)


class GraphFileError(ValueError):
    """The file is not a road graph this version reads; the message says which file
    and what to do."""


@dataclass(frozen=True, slots=True)
class GraphArrays:
    """What the file holds. Nodes are road nodes (lat, lon in degrees, float64);
    edges are stored reversed, as CSR rows by head node: `tails[indptr[v]:indptr[v+1]]`
    are the nodes with a road to v, taking `time_ms` and `length_dm` (integers, each
    rounded up, so never below the geodesic or its time at `fastest_mps`).
    `component` labels the strongly connected part a node is in: a route exists
    exactly when both ends share it."""

    lat: F64
    lon: F64
    indptr: NDArray[np.int32]
    tails: NDArray[np.int32]
    time_ms: NDArray[np.uint32]
    length_dm: NDArray[np.uint32]
    component: NDArray[np.int32]
    fastest_mps: float
    source: str  # the extract's file name, for the record

    @property
    def node_count(self) -> int:
        return len(self.lat)

    @property
    def edge_count(self) -> int:
        return len(self.tails)

    def save(self, path: Path) -> int:
        """Write exactly `path` (a temporary file beside it, then renamed, so a failed
        write leaves nothing there); returns its size in bytes."""
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "wb") as out:  # a file object: savez adds no ".npz"
                np.savez(
                    out,
                    format=np.array(FORMAT),
                    source=np.array(self.source),
                    fastest_mps=np.array(self.fastest_mps),
                    lat=self.lat,
                    lon=self.lon,
                    indptr=self.indptr,
                    tails=self.tails,
                    time_ms=self.time_ms,
                    length_dm=self.length_dm,
                    component=self.component,
                )
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    @classmethod
    def load(cls, path: Path) -> "GraphArrays":
        """Read a file that `save` wrote, or raise GraphFileError saying why not."""
        try:
            with np.load(path, allow_pickle=False) as held:
                found = str(held["format"]) if "format" in held.files else None
                if found != FORMAT:
                    raise GraphFileError(
                        f"{path}: not a road graph this version reads (format {found!r}, "
                        f"expected {FORMAT!r}); build it again with `corespond roads build`"
                    )
                arrays = cls(
                    lat=held["lat"],
                    lon=held["lon"],
                    indptr=held["indptr"],
                    tails=held["tails"],
                    time_ms=held["time_ms"],
                    length_dm=held["length_dm"],
                    component=held["component"],
                    fastest_mps=float(held["fastest_mps"]),
                    source=str(held["source"]),
                )
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, GraphFileError):
                raise
            raise GraphFileError(
                f"{path}: not a road graph made by `corespond roads build` ({exc})"
            ) from None
        n = arrays.node_count
        if len(arrays.indptr) != n + 1 or int(arrays.indptr[-1]) != arrays.edge_count:
            raise GraphFileError(f"{path}: a damaged road graph (its edges do not add up)")
        return arrays


class RoadGraph:
    """`dispatch.roads.RoadTimes` on an embedded graph. A point is joined to its
    nearest road node by a straight leg driven at `snap_mps`; an origin farther than
    `snap_limit_m` from every road, or on a part of the network that does not reach
    the call, gets None; a call that far from every road raises RoutingUnavailable."""

    def __init__(
        self,
        arrays: GraphArrays,
        *,
        name: str,
        snap_limit_m: float = 1_000.0,
        snap_mps: float = 5.0,
    ) -> None:
        self._arrays = arrays
        self._name = name
        self._snap_limit_m = snap_limit_m
        self._snap_mps = snap_mps
        self._fastest_mps = max(arrays.fastest_mps, snap_mps)
        weight = arrays.time_ms.astype(np.float64) * WEIGHT_SCALE + arrays.length_dm
        n = arrays.node_count
        self._reverse = csr_matrix((weight, arrays.tails, arrays.indptr), shape=(n, n))
        self._tree = cKDTree(_unit_xyz(arrays.lat, arrays.lon))

    @classmethod
    def load(cls, path: Path, *, snap_limit_m: float = 1_000.0) -> "RoadGraph":
        return cls(
            GraphArrays.load(path), name=f"road graph {path.name}", snap_limit_m=snap_limit_m
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def fastest_mps(self) -> float:
        return self._fastest_mps

    @property
    def arrays(self) -> GraphArrays:
        return self._arrays

    def to_one(
        self, origins: Sequence[Point], dest: Point, *, within_s: float | None = None
    ) -> list[Travel | None]:
        if within_s is not None and math.isnan(within_s):
            raise ValueError("within_s is a number of seconds, or None for no limit; not nan")
        g = self._arrays
        lat = np.array([dest.lat, *(p.lat for p in origins)], dtype=np.float64)
        lon = np.array([dest.lon, *(p.lon for p in origins)], dtype=np.float64)
        _, nodes = self._tree.query(_unit_xyz(lat, lon))
        snap_m = lengths_m(lat, lon, g.lat[nodes], g.lon[nodes])
        if snap_m[0] > self._snap_limit_m:
            raise RoutingUnavailable(
                f"the call is {snap_m[0]:,.0f} m from the nearest road of the {self._name} "
                f"(more than {self._snap_limit_m:,.0f} m), so road times cannot be estimated"
            )
        target, from_nodes = nodes[0], nodes[1:]
        routed = (snap_m[1:] <= self._snap_limit_m) & (
            g.component[from_nodes] == g.component[target]
        )
        legs_m = snap_m[1:][routed] + snap_m[0]
        weights = self._search(target, from_nodes[routed], self._limit(within_s, legs_m))
        reached = np.isfinite(weights)  # the others are farther than the search was asked
        weights = np.where(reached, weights, 0.0)
        time_ms = np.floor(weights / WEIGHT_SCALE)
        road_m = (weights - time_ms * WEIGHT_SCALE) / 10
        result: list[Travel | None] = [None] * len(origins)
        for slot, found, t, d, leg in zip(
            np.flatnonzero(routed).tolist(),
            reached.tolist(),
            time_ms.tolist(),
            road_m.tolist(),
            legs_m.tolist(),
            strict=True,
        ):
            if not found:
                result[slot] = BEYOND
            else:
                result[slot] = Travel(distance_m=d + leg, eta_s=t / 1000 + leg / self._snap_mps)
        return result

    def _limit(self, within_s: float | None, legs_m: F64) -> float | None:
        """The search's limit (in weight) for `within_s`: no origin it leaves unreached
        can arrive within `within_s`. None: no `within_s`, so reach every origin."""
        if within_s is None or math.isinf(within_s) or len(legs_m) == 0:
            return None
        # The origin with the shortest legs has the most road time to spare. Two
        # milliseconds more: an unreached origin's time then exceeds `within_s` by at
        # least one, beyond any rounding of the seconds reported.
        road_ms = math.floor(max(0.0, within_s - float(legs_m.min()) / self._snap_mps) * 1000)
        return (road_ms + 2) * WEIGHT_SCALE

    def _search(self, target: int, sources: NDArray[np.intp], limit: float | None) -> F64:
        """Each source's weight to `target` (every source is known to reach it); with
        `limit`, one search that far, and infinity for the sources it does not reach."""
        if len(sources) == 0:
            return np.zeros(0)
        if limit is not None:
            reached = dijkstra(self._reverse, indices=int(target), limit=limit, min_only=True)
            found: F64 = reached[sources]
            return found
        g = self._arrays
        straight = lengths_m(g.lat[sources], g.lon[sources], g.lat[target], g.lon[target])
        limit_s = float(straight.max()) * _GUESS_S_PER_M + _GUESS_EXTRA_S
        while True:
            limit = math.inf if limit_s > _UNLIMITED_AFTER_S else limit_s * 1000 * WEIGHT_SCALE
            reached = dijkstra(self._reverse, indices=int(target), limit=limit, min_only=True)
            weights: F64 = reached[sources]
            if bool(np.isfinite(weights).all()) or math.isinf(limit):
                return weights
            limit_s *= 2
