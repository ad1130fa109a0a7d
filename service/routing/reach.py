"""Where a trip to a call can start, by cell (`CellTable`): made once when the graph
loads, read by `RoadGraph.reach` with its last search. Each H3 cell (~175 m edges, or
coarser when the snap limit would take too many rings) knows its longest possible leg
to the road and whether every point in it routes to one component."""

import math
from dataclasses import dataclass

import numpy as np
from h3.api import basic_int as h3
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from dispatch.cells import disk_reach_m, edge_length_m, rings_to_cover
from service.routing.sphere import F64, lengths_m, unit_xyz

# Cells of ~175 m edges (res 9), or coarser when the snap limit would take more rings
# than this to cover.
_REACH_RESOLUTIONS = (9, 8, 7, 6, 5, 4)
_MOST_RINGS = 6
SNAP_MARGIN_M = 1.0  # for rounding: a leg is measured in float, and the cells' reach too


@dataclass(frozen=True, slots=True)
class CellTable:
    """Where trips can start, by H3 cells of one resolution: every cell within the
    snap limit of a road node, numbered in `cells` order (`len(cells)` stands for
    none). For each cell: its neighbours and itself (the outermost cells, whose
    neighbours are not all numbered, have none); the longest leg by which a point can
    join a node in it (`leg_cap_m`); and whether every point in it has a road route
    in the largest component (`routed`). For each node, its cell. `covers_m[k - 1]`
    is how far k rings around a cell reach beyond it."""

    res: int
    cells: NDArray[np.int64]
    node_cell: NDArray[np.int32]
    neighbours: NDArray[np.int32]
    leg_cap_m: F64
    covers_m: F64
    routed: NDArray[np.int64]
    main_component: int
    unrouted: cKDTree | None  # the centres of the cells not all routed
    unrouted_radius_m: float  # the farthest any point of those cells is from its centre

    @classmethod
    def of(cls, lat: F64, lon: F64, component: NDArray[np.int32], snap_m: float) -> "CellTable":
        """The table for nodes at `lat`, `lon` in `component`s, and legs of up to
        `snap_m`, at the finest resolution whose rings cover `snap_m` in a few steps."""
        points = list(zip(lat.tolist(), lon.tolist(), strict=True))
        res, edge_m = _reach_resolution(points, snap_m)
        node_cells = np.array([h3.latlng_to_cell(a, o, res) for a, o in points], dtype=np.int64)
        most = rings_to_cover(snap_m, edge_m)
        cells, neighbours = _cells_around(set(node_cells.tolist()), most)
        node_cell = np.searchsorted(cells, node_cells).astype(np.int32)
        radius_m, nearest_m = _cell_geometry(cells, lat, lon)
        leg_m = np.minimum(snap_m, (radius_m + nearest_m) * _SPHERE_TO_GEODESIC**2 + 1.0)
        covers_m = np.array([disk_reach_m(k, edge_m) for k in range(1, most + 1)])
        leg_cap_m = _spread(np.append(leg_m, 0.0), neighbours, most, np.maximum)[:-1]
        main = int(np.bincount(component).argmax()) if len(component) else 0
        routed = _all_routed(node_cell, component, neighbours, leg_m, covers_m, snap_m)
        unrouted_at = np.flatnonzero(routed != main)
        centres = np.array([h3.cell_to_latlng(int(c)) for c in cells[unrouted_at]]).reshape(-1, 2)
        return cls(
            res=res,
            cells=cells,
            node_cell=node_cell,
            neighbours=neighbours,
            leg_cap_m=leg_cap_m,
            covers_m=covers_m,
            routed=routed,
            main_component=main,
            unrouted=cKDTree(unit_xyz(centres[:, 0], centres[:, 1])) if len(centres) else None,
            unrouted_radius_m=float(radius_m[unrouted_at].max(initial=0.0)),
        )

    def around(
        self, nodes: NDArray[np.intp], metres: F64, times_s: F64, component: int
    ) -> tuple[NDArray[np.int64], F64]:
        """The cells where a point may join node `nodes[i]` by a leg of at most
        `metres[i]`, for every i, and for each the least of `times_s` over the nodes
        it can join (0 where a point may join no node of `component`, the nodes' own),
        in that order.
        Each node's cell and as many rings round it as cover that leg, no longer than
        the longest leg a point there can have: the nodes that need as many rings
        together, spread ring by ring."""
        count = len(self.cells)
        own = self.node_cell[nodes]
        legs = np.minimum(metres, self.leg_cap_m[own])
        rings = np.searchsorted(self.covers_m, legs) + 1
        least = np.full(count + 1, math.inf)
        for k in np.unique(rings).tolist():
            alike = rings == k
            soonest = np.full(count + 1, math.inf)
            np.minimum.at(soonest, own[alike], times_s[alike])
            for _ in range(k):
                spreading = np.flatnonzero(soonest < math.inf)
                onto = self.neighbours[spreading].ravel()
                np.minimum.at(soonest, onto, np.repeat(soonest[spreading], 7))
            np.minimum(least, soonest, out=least)
        inside = np.flatnonzero(least[:count] < math.inf)
        least = np.where(self.routed[inside] == component, least[inside], 0.0)
        order = np.argsort(least, kind="stable")
        return self.cells[inside[order]], least[order]

    def all_routed_m(self, point: F64, component: int) -> float:
        """How far around `point` (unit xyz) every point has a road route to a node of
        `component`: to the nearest cell that may hold one without (0: not known)."""
        if component != self.main_component:
            return 0.0
        if self.unrouted is None:
            return math.inf
        chord_m, _ = self.unrouted.query(point)
        return max(0.0, float(chord_m) / _SPHERE_TO_GEODESIC - self.unrouted_radius_m - 1.0)


# A chord of the sphere `_unit_xyz` places points on is no longer than the arc, and an
# arc differs from the WGS84 geodesic by under 0.7 %: nodes are nearest by chord.
_SPHERE_TO_GEODESIC = 1.01


def _reach_resolution(points: list[tuple[float, float]], snap_m: float) -> tuple[int, float]:
    """The finest resolution of `_REACH_RESOLUTIONS` whose cells' rings (least edge,
    near `points`) cover `snap_m` in at most `_MOST_RINGS`, and that edge."""
    sample = points[:: max(1, len(points) // 256)]
    for res in _REACH_RESOLUTIONS:
        edge_m = min((edge_length_m(h3.latlng_to_cell(a, o, res)) for a, o in sample), default=1.0)
        if rings_to_cover(snap_m, edge_m) <= _MOST_RINGS:
            break
    cells = {h3.latlng_to_cell(a, o, res) for a, o in points}
    return res, min((edge_length_m(c) for c in cells), default=1.0)


def _cells_around(own: set[int], most: int) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """`own` cells and `most` rings around them, sorted, with each one's neighbours
    and itself (a pentagon's repeated), or `len(cells)` for the outermost ring's."""
    rows: dict[int, list[int]] = {}
    frontier = list(own)
    for _ in range(most):
        beyond: list[int] = []
        for cell in frontier:
            rows[cell] = around = list(h3.grid_disk(cell, 1))
            beyond += (c for c in around if c not in own)
        own.update(beyond)
        frontier = list(set(beyond))
    cells = np.array(sorted(own), dtype=np.int64)
    neighbours = np.full((len(cells) + 1, 7), len(cells), dtype=np.int32)
    if rows:
        spreading = np.array(sorted(rows), dtype=np.int64)
        padded = [(rows[c] + [c] * 7)[:7] for c in spreading.tolist()]
        neighbours[np.searchsorted(cells, spreading)] = np.searchsorted(cells, np.array(padded))
    return cells, neighbours


def _cell_geometry(cells: NDArray[np.int64], lat: F64, lon: F64) -> tuple[F64, F64]:
    """Each cell's farthest point from its centre, and its centre's nearest node (no
    nearer than the geodesic: an upper bound on every leg from the cell, less the
    first)."""
    centres = np.array([h3.cell_to_latlng(c) for c in cells.tolist()]).reshape(-1, 2)
    corners = [h3.cell_to_boundary(c) for c in cells.tolist()]
    sides = np.array([len(b) for b in corners])
    flat = np.array([v for b in corners for v in b]).reshape(-1, 2)
    c_lat, c_lon = np.repeat(centres[:, 0], sides), np.repeat(centres[:, 1], sides)
    to_corner = lengths_m(c_lat, c_lon, flat[:, 0], flat[:, 1]) * _SPHERE_TO_GEODESIC + 1.0
    radius_m = np.maximum.reduceat(to_corner, np.concatenate([[0], np.cumsum(sides)[:-1]]))
    _, nearest = cKDTree(unit_xyz(lat, lon)).query(unit_xyz(centres[:, 0], centres[:, 1]))
    nearest_m = lengths_m(centres[:, 0], centres[:, 1], lat[nearest], lon[nearest])
    return np.asarray(radius_m, dtype=np.float64), nearest_m


def _spread(values: F64, neighbours: NDArray[np.int32], times: int, how: np.ufunc) -> F64:
    """Each cell's `how` (max or min) over its disk of radius `times`."""
    for _ in range(times):
        values = how.reduce(values[neighbours], axis=1)
    return values


def _all_routed(
    node_cell: NDArray[np.int32],
    component: NDArray[np.int32],
    neighbours: NDArray[np.int32],
    leg_m: F64,
    covers_m: F64,
    snap_m: float,
) -> NDArray[np.int64]:
    """For each cell, the component every point in it joins within the snap limit,
    or -1 when some point may not (too far from a node, or nearer some node of
    another component). Beyond the table there are no nodes, and the outermost cells,
    which have no neighbours, are too far from any to be routed."""
    count = len(neighbours) - 1
    low = np.full(count + 1, np.iinfo(np.int64).max)  # no node: no constraint
    high = np.full(count + 1, -1, dtype=np.int64)
    np.minimum.at(low, node_cell, component)
    np.maximum.at(high, node_cell, component)
    rings = np.searchsorted(covers_m, np.minimum(leg_m, covers_m[-1])) + 1
    routed = np.full(count, -1, dtype=np.int64)
    for k in range(1, len(covers_m) + 1):  # the nodes within k rings: one component?
        low = np.minimum.reduce(low[neighbours], axis=1)
        high = np.maximum.reduce(high[neighbours], axis=1)
        uniform = (rings == k) & (low[:count] == high[:count])
        routed[uniform] = high[:count][uniform]
    # `snap_m` has the margin added for the rings; the legs `to_one` measures need it
    # taken off again, and as much for their own rounding.
    return np.where(leg_m <= snap_m - 2 * SNAP_MARGIN_M, routed, -1)
