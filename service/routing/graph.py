"""The embedded road graph: a file that `corespond roads build` makes from an
OpenStreetMap extract, loaded once at start and queried in-process.

One `to_one` call is one reverse Dijkstra search from the call over the reversed
graph (scipy's csgraph, bounded by a time limit), whatever the number of origins.
Asked `within_s`, the limit is that (less the shortest legs to the road), once; an
origin the search does not reach is answered `BEYOND`, and one it reaches exactly,
even past `within_s` (a search goes at least 3 minutes out, or is kept from before).
Otherwise the limit is a guess that doubles until every origin is reached. The last
search is kept: `reach` reads from it where trips to the call can start (the cells of
`CellTable`, made at load), and the call's next questions, and its next seat's, are
answered from it.
Each edge weighs `time_ms * 2**26 + length_dm`, integers that a float64 holds
exactly: the search finds the fastest path (ties to the shorter) and its sum
carries that path's length in the low bits, so one search answers both time and
distance, with no predecessor walk. Exact for trips under 37 hours and 6,700 km.
"""

import math
import os
import tempfile
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from dispatch.roads import BEYOND, Reach, RoutingUnavailable
from dispatch.travel import Point, Travel
from service.routing.reach import SNAP_MARGIN_M, CellTable
from service.routing.sphere import F64, lengths_m, unit_xyz

FORMAT = "corespond-roads-1"
WEIGHT_SCALE = float(2**26)  # time_ms * WEIGHT_SCALE + length_dm; length_dm < 2**26
# A first guess at the search's time limit: 1.5x circuity at 10 m/s, plus a minute;
# an origin not reached within it doubles the limit (rare: a river, a highway).
_GUESS_S_PER_M = 0.15
_GUESS_EXTRA_S = 60.0
_UNLIMITED_AFTER_S = 4 * 3600.0
# A search goes at least this far: starting one costs as much as the first minutes of
# road (scipy prepares every node), and the call's next seat, or a second threshold,
# then need no search of their own.
_LEAST_SEARCH_S = 180.0
_SOONEST_MARGIN_S = 1e-6  # for rounding: the least time from a cell is found in float


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
    the call, gets None; a call that far from every road raises RoutingUnavailable.

    The last search is kept: `reach` searches outward from the call, and `to_one`
    for the same call within no more time answers from it. One search, read by any
    thread, replaced whole: threads that interleave calls search again, no worse."""

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
        self._tree = cKDTree(unit_xyz(arrays.lat, arrays.lon))
        self._cells = CellTable.of(
            arrays.lat, arrays.lon, arrays.component, snap_limit_m + SNAP_MARGIN_M
        )
        self._last: _Searched | None = None
        self._last_reach: tuple[Point, Reach] | None = None

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

    def forget(self) -> None:
        """Drop the search kept from the last call (for benchmarks that start cold)."""
        self._last, self._last_reach = None, None

    def to_one(
        self, origins: Sequence[Point], dest: Point, *, within_s: float | None = None
    ) -> list[Travel | None]:
        if within_s is not None and math.isnan(within_s):
            raise ValueError("within_s is a number of seconds, or None for no limit; not nan")
        g = self._arrays
        lat = np.array([dest.lat, *(p.lat for p in origins)], dtype=np.float64)
        lon = np.array([dest.lon, *(p.lon for p in origins)], dtype=np.float64)
        _, nodes = self._tree.query(unit_xyz(lat, lon))
        snap_m = lengths_m(lat, lon, g.lat[nodes], g.lon[nodes])
        self._check_call(float(snap_m[0]))
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

    def reach(self, dest: Point, within_s: float) -> Reach:
        """Where a trip to `dest` within `within_s` can start: within a leg of the
        time left (at `snap_mps`, and no longer than the snap limit) of a node the
        search reaches in time. Every cell such a leg touches, and no other."""
        if not math.isfinite(within_s):
            raise ValueError(f"within_s is a finite number of seconds, not {within_s}")
        last = self._last_reach
        if last is None or last[0] != dest or last[1].within_s < within_s:
            last = dest, self._reach(dest, within_s)
            self._last_reach = last
        # The cells of a farther reach from the same point, as soon: a seat's second
        # threshold, or the call's next seat, need no new search.
        farther = last[1]
        end = bisect_right(farther.least_s, within_s)
        return replace(
            farther, within_s=within_s, cells=farther.cells[:end], least_s=farther.least_s[:end]
        )

    def _reach(self, dest: Point, within_s: float) -> Reach:
        g = self._arrays
        lat, lon = np.array([dest.lat]), np.array([dest.lon])
        at = unit_xyz(lat, lon)
        _, nodes = self._tree.query(at)
        target = int(nodes[0])
        leg_m = float(lengths_m(lat, lon, g.lat[nodes], g.lon[nodes])[0])
        self._check_call(leg_m)
        routed_m = self._cells.all_routed_m(at[0], int(g.component[target]))
        road_s = within_s - leg_m / self._snap_mps
        if road_s < 0:
            return Reach(within_s=within_s, cells=(), least_s=(), all_routed_m=routed_m)
        limit = (math.floor(road_s * 1000) + 2) * WEIGHT_SCALE  # as `_limit`, with no leg
        searched = self._searched(target, limit)
        settled = searched.settled
        settled = settled[searched.weights[settled] <= limit]
        time_s = np.floor(searched.weights[settled] / WEIGHT_SCALE) / 1000
        spare_m = np.minimum(self._snap_limit_m, self._snap_mps * np.maximum(0, road_s - time_s))
        soonest_s = time_s + leg_m / self._snap_mps - _SOONEST_MARGIN_S
        cells, least_s = self._cells.around(
            settled, spare_m + SNAP_MARGIN_M, soonest_s, int(g.component[target])
        )
        return Reach(
            within_s=within_s,
            cells=tuple(cells.tolist()),
            least_s=tuple(least_s.tolist()),
            all_routed_m=routed_m,
        )

    def _check_call(self, leg_m: float) -> None:
        if leg_m > self._snap_limit_m:
            raise RoutingUnavailable(
                f"the call is {leg_m:,.0f} m from the nearest road of the {self._name} "
                f"(more than {self._snap_limit_m:,.0f} m), so road times cannot be estimated"
            )

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

    def _searched(self, target: int, limit: float) -> "_Searched":
        """A search to `target` as far as `limit` at least: the last one if it went as
        far, else a new one."""
        last = self._last
        if last is not None and last.target == target and last.limit >= limit:
            return last
        limit = max(limit, _LEAST_SEARCH_S * 1000 * WEIGHT_SCALE)
        weights = dijkstra(self._reverse, indices=target, limit=limit, min_only=True)
        self._last = searched = _Searched(target, limit, weights)
        return searched

    def _weights(self, target: int, limit: float) -> F64:
        """Every node's weight to `target`, exact up to `limit` (infinity beyond)."""
        return self._searched(target, limit).weights

    def _search(self, target: int, sources: NDArray[np.intp], limit: float | None) -> F64:
        """Each source's weight to `target` (every source is known to reach it); with
        `limit`, infinity for the sources farther than the search went (at least
        `limit`; one kept from an earlier question may have gone farther, and what it
        found is exact: answered, it need not be asked again)."""
        if len(sources) == 0:
            return np.zeros(0)
        if limit is not None:
            found: F64 = self._weights(int(target), limit)[sources]
            return found
        g = self._arrays
        straight = lengths_m(g.lat[sources], g.lon[sources], g.lat[target], g.lon[target])
        limit_s = float(straight.max()) * _GUESS_S_PER_M + _GUESS_EXTRA_S
        while True:
            limit = math.inf if limit_s > _UNLIMITED_AFTER_S else limit_s * 1000 * WEIGHT_SCALE
            weights: F64 = self._weights(int(target), limit)[sources]
            if bool(np.isfinite(weights).all()) or math.isinf(limit):
                return weights
            limit_s *= 2


class _Searched:
    """One search from a call's node (`target`): every node's weight to it, exact up
    to `limit`, infinite beyond; and, once asked for, the nodes it reached."""

    def __init__(self, target: int, limit: float, weights: F64) -> None:
        self.target, self.limit, self.weights = target, limit, weights
        self._settled: NDArray[np.intp] | None = None

    @property
    def settled(self) -> NDArray[np.intp]:
        if self._settled is None:
            self._settled = np.flatnonzero(np.isfinite(self.weights))
        return self._settled
