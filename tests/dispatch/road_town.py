"""A small town's roads in pure Python: a real `dispatch.roads.RoadTimes` for tests.

A grid of two-way streets `block_m` apart, `rows` streets running east-west and
`cols` north-south; every `avenue_every`-th street is a faster avenue. A river runs
east-west between street rows `river_after_row` and the next, crossed by one
bridge on column `bridge_col` (none: the north bank does not connect). A point
joins its nearest crossing by a straight leg driven at `snap_mps`, if that leg is
no longer than `snap_limit_m`; travel times are shortest paths by Dijkstra. Asked
`within_s`, it answers `BEYOND` for every trip longer, as an engine that stops its
search there would (and counts them in `beyond_answered`).

Every leg's length is the WGS84 geodesic between its ends and no leg is driven
faster than `fastest_mps`, so a trip never beats its geodesic at that speed: the
promise the search's lower bound rests on. It says where a trip within a time can
start (`reach`) as the embedded graph does, from the same search, unless made
with `reach=False`: then, as a routing server, it cannot (`reach` is None).
"""

import heapq
import math
from collections.abc import Sequence

from h3.api import basic_int as h3

from dispatch.cells import edge_length_m, rings_to_cover
from dispatch.roads import BEYOND, Reach, RoutingUnavailable
from dispatch.travel import NearCall, Point, Travel, geodesic_m

_M_PER_DEG = 111_195.0  # on a sphere; the legs' lengths are geodesics whatever this is
REACH_RES = 9
# A point inside the grid rounds to a crossing within half a block's diagonal (and a
# little for the grid's degrees against the ellipsoid), in blocks.
_HALF_DIAGONAL = 0.72


class RoadTown:
    def __init__(
        self,
        *,
        south: float = 40.0,
        west: float = -75.3,
        rows: int = 21,
        cols: int = 41,
        block_m: float = 100.0,
        river_after_row: int | None = 10,
        bridge_col: int | None = 35,
        street_mps: float = 9.0,
        avenue_mps: float = 15.0,
        avenue_every: int = 5,
        snap_mps: float = 5.0,
        snap_limit_m: float = 250.0,
        reach: bool = True,
    ) -> None:
        if rows < 1 or cols < 1 or block_m <= 0:
            raise ValueError(f"a town needs streets: rows={rows}, cols={cols}, block_m={block_m}")
        if bridge_col is not None and not 0 <= bridge_col < cols:
            raise ValueError(f"bridge_col {bridge_col} is not a street column (0 to {cols - 1})")
        self.south, self.west, self.rows, self.cols = south, west, rows, cols
        self.block_m = block_m
        self._north_deg = block_m / _M_PER_DEG
        self._east_deg = block_m / (_M_PER_DEG * math.cos(math.radians(south)))
        self._snap_mps, self._snap_limit_m = snap_mps, snap_limit_m
        self._fastest = max(street_mps, avenue_mps, snap_mps)
        self._links: list[list[tuple[int, float, float]]] = [[] for _ in range(rows * cols)]
        for r in range(rows):
            for c in range(cols):
                mps = avenue_mps if r % avenue_every == 0 else street_mps
                if c + 1 < cols:
                    self._link((r, c), (r, c + 1), mps)
                crosses = r == river_after_row
                if r + 1 < rows and (not crosses or c == bridge_col):
                    self._link(
                        (r, c), (r + 1, c), avenue_mps if c % avenue_every == 0 else street_mps
                    )
        self._from: dict[int, tuple[list[float], list[float]]] = {}
        self.knows_reach = reach
        self._routed: dict[int, dict[int, bool]] = {}  # by target: cells all routed to it
        self._lost: dict[int, list[tuple[float, float]]] = {}  # by target: where not reached
        self._cells = [
            h3.latlng_to_cell(*self._at_node(node), REACH_RES) for node in range(rows * cols)
        ]
        self.queries = 0  # to_one calls answered, for tests that count them
        self.origins_asked = 0
        self.beyond_answered = 0
        self.reaches = 0  # reach calls answered with cells

    @property
    def name(self) -> str:
        return f"road town {self.rows}x{self.cols}"

    @property
    def fastest_mps(self) -> float:
        return self._fastest

    def at(self, row: float, col: float) -> Point:
        """The point `row` blocks north and `col` blocks east of the south-west corner."""
        return Point(self.south + row * self._north_deg, self.west + col * self._east_deg)

    def to_one(
        self, origins: Sequence[Point], dest: Point, *, within_s: float | None = None
    ) -> list[Travel | None]:
        """Road travel from each origin to `dest` (see `dispatch.roads.RoadTimes`)."""
        target, dest_leg = self._snap(dest)
        if dest_leg > self._snap_limit_m:
            raise RoutingUnavailable(
                f"the call is {dest_leg:,.0f} m from the nearest street of the {self.name}"
            )
        self.queries += 1
        self.origins_asked += len(origins)
        seconds, metres = self._paths_to(target)
        answers: list[Travel | None] = []
        for origin in origins:
            node, leg = self._snap(origin)
            if leg > self._snap_limit_m or math.isinf(seconds[node]):
                answers.append(None)
                continue
            legs = leg + dest_leg
            travel = Travel(metres[node] + legs, seconds[node] + legs / self._snap_mps)
            if within_s is not None and travel.eta_s > within_s:
                self.beyond_answered += 1
                travel = BEYOND
            answers.append(travel)
        return answers

    def reach(self, dest: Point, within_s: float) -> Reach | None:
        """Every cell within a leg of the time left (at `snap_mps`, and no longer than
        the snap limit) of a crossing reached in time, with the least time from it
        where every point in it joins a crossing that reaches `dest`, and how far from
        `dest` every point does (see `dispatch.roads.RoadTimes`)."""
        if not self.knows_reach:
            return None
        target, dest_leg = self._snap(dest)
        if dest_leg > self._snap_limit_m:
            raise RoutingUnavailable(
                f"the call is {dest_leg:,.0f} m from the nearest street of the {self.name}"
            )
        self.reaches += 1
        road_s = within_s - dest_leg / self._snap_mps
        soonest: dict[tuple[int, int], float] = {}  # (cell, rings round it): least seconds
        seconds = self._paths_to(target)[0]
        for node, at in enumerate(seconds):
            if at <= road_s:
                spare_m = min(self._snap_limit_m, self._snap_mps * (road_s - at)) + 1e-3
                cell = self._cells[node]
                key = (cell, rings_to_cover(spare_m, edge_length_m(cell)))
                soonest[key] = min(at + dest_leg / self._snap_mps, soonest.get(key, math.inf))
        least: dict[int, float] = {}
        for (cell, rings), at in soonest.items():
            for c in h3.grid_disk(cell, rings):
                least[c] = min(at - 1e-9, least.get(c, math.inf))
        routed = self._routed.setdefault(target, {})
        for c in least.keys() - routed.keys():
            routed[c] = self._all_routed(c, seconds)
        soonest_first = sorted((least[c] if routed[c] else 0.0, c) for c in least)
        return Reach(
            within_s=within_s,
            cells=tuple(c for _, c in soonest_first),
            least_s=tuple(s for s, _ in soonest_first),
            all_routed_m=self._all_routed_m(dest, target),
        )

    def _all_routed(self, cell: int, seconds: list[float]) -> bool:
        """Whether every point of `cell` joins (by rounding) a crossing with a finite
        time: the cell lies inside the grid, so every leg is under half a block's
        diagonal, and every crossing that near its points is reached."""
        if self._snap_limit_m < _HALF_DIAGONAL * self.block_m:
            return False
        corners = h3.cell_to_boundary(cell)
        grid = [self._grid_at(lat, lon) for lat, lon in corners]
        if not all(0 <= r <= self.rows - 1 and 0 <= c <= self.cols - 1 for r, c in grid):
            return False
        low_r, high_r = math.floor(min(r for r, _ in grid)), math.ceil(max(r for r, _ in grid))
        low_c, high_c = math.floor(min(c for _, c in grid)), math.ceil(max(c for _, c in grid))
        return all(
            math.isfinite(seconds[r * self.cols + c])
            for r in range(low_r, high_r + 1)
            for c in range(low_c, high_c + 1)
        )

    def _all_routed_m(self, dest: Point, target: int) -> float:
        """How far from `dest` every point joins a crossing with a finite time to
        `target`: up to the grid's edge, and half a block's diagonal short of any
        crossing not reached."""
        row, col = self._grid_at(dest.lat, dest.lon)
        edge = min(row, self.rows - 1 - row, col, self.cols - 1 - col) * self.block_m * 0.99
        if target not in self._lost:
            seconds = self._paths_to(target)[0]
            self._lost[target] = [
                self._at_node(n) for n, at in enumerate(seconds) if at == math.inf
            ]
        near = NearCall(dest.lat, dest.lon)
        lost = (
            near.lower_bound_m(*at) - _HALF_DIAGONAL * self.block_m for at in self._lost[target]
        )
        return max(0.0, min([edge, *lost]))

    def _grid_at(self, lat: float, lon: float) -> tuple[float, float]:
        return (lat - self.south) / self._north_deg, (lon - self.west) / self._east_deg

    def _at_node(self, node: int) -> tuple[float, float]:
        at = self.at(*divmod(node, self.cols))
        return at.lat, at.lon

    def _link(self, a: tuple[int, int], b: tuple[int, int], mps: float) -> None:
        i, j = a[0] * self.cols + a[1], b[0] * self.cols + b[1]
        metres = geodesic_m(self.at(*a), self.at(*b))
        self._links[i].append((j, metres / mps, metres))
        self._links[j].append((i, metres / mps, metres))

    def _snap(self, p: Point) -> tuple[int, float]:
        """The nearest crossing (rounding each axis of the local grid) and the leg to it."""
        row = min(self.rows - 1, max(0, round((p.lat - self.south) / self._north_deg)))
        col = min(self.cols - 1, max(0, round((p.lon - self.west) / self._east_deg)))
        return row * self.cols + col, geodesic_m(p, self.at(row, col))

    def _paths_to(self, target: int) -> tuple[list[float], list[float]]:
        """Quickest times to `target` from every crossing, and those paths' lengths."""
        if target in self._from:
            return self._from[target]
        seconds = [math.inf] * len(self._links)
        metres = [math.inf] * len(self._links)
        seconds[target], metres[target] = 0.0, 0.0
        todo = [(0.0, target)]
        while todo:
            t, node = heapq.heappop(todo)
            if t > seconds[node]:
                continue
            for nxt, dt, dm in self._links[node]:
                if t + dt < seconds[nxt]:
                    seconds[nxt], metres[nxt] = t + dt, metres[node] + dm
                    heapq.heappush(todo, (t + dt, nxt))
        self._from[target] = (seconds, metres)
        return seconds, metres
