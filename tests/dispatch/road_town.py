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
promise the search's lower bound rests on.
"""

import heapq
import math
from collections.abc import Sequence

from dispatch.roads import BEYOND, RoutingUnavailable
from dispatch.travel import Point, Travel, geodesic_m

_M_PER_DEG = 111_195.0  # on a sphere; the legs' lengths are geodesics whatever this is


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
        self.queries = 0  # to_one calls answered, for tests that count them
        self.origins_asked = 0
        self.beyond_answered = 0

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
