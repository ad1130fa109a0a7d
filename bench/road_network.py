"""A county-sized synthetic road network, written as an OpenStreetMap file, so the
road-engine benchmark measures the real build path (`corespond roads build`).

Over the county box of `bench.population` (about 59 x 49 km): a street grid 125 m
apart, jittered, dense where the shared sample's calls are and thinned to winding
lanes where they are not; every 8th street a secondary road, every 32nd a primary;
winding tertiary roads across the grid; three rivers that only a few bridges
cross; two motorways (two one-way carriageways each) that streets cross at
overpasses without joining, and that are entered only at sparse interchanges.
About 200,000 road nodes. Deterministic for a seed.

    .venv/bin/python -m bench.road_network /tmp/county.osm.pbf
"""

import itertools
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
from numpy.typing import NDArray
from osmium.osm.mutable import Node, Way
from scipy.spatial import cKDTree

from bench.population import LAT_RANGE, LON_RANGE, METRES_PER_DEGREE, load_call_locations

SPACING_M = 125.0
_LAT0 = (LAT_RANGE[0] + LAT_RANGE[1]) / 2
_LON0 = (LON_RANGE[0] + LON_RANGE[1]) / 2
_EAST_M_PER_DEG = METRES_PER_DEGREE * math.cos(math.radians(_LAT0))
HALF_W = (LON_RANGE[1] - LON_RANGE[0]) / 2 * _EAST_M_PER_DEG + 1_000
HALF_H = (LAT_RANGE[1] - LAT_RANGE[0]) / 2 * METRES_PER_DEGREE + 1_000
_BRIDGES_PER_RIVER = 5
_OVERPASS_EVERY_M = 1_500.0
_INTERCHANGE_EVERY_M = 6_000.0
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class _River:
    """side(x, y) = n.p - c + a sin(t.p / wavelength): the banks are where it is 0."""

    normal: tuple[float, float]
    offset: float
    amplitude: float
    wavelength: float

    def side(self, x: F64, y: F64) -> F64:
        nx, ny = self.normal
        along = -ny * x + nx * y
        return np.asarray(
            nx * x + ny * y - self.offset + self.amplitude * np.sin(along / self.wavelength)
        )

    def along(self, x: F64, y: F64) -> F64:
        nx, ny = self.normal
        return np.asarray(-ny * x + nx * y)


_RIVERS = (
    _River((0.6, 0.8), 2_000.0, 1_500.0, 3_000.0),  # north-west to south-east, like the Schuylkill
    _River((1.0, 0.0), -15_000.0, 900.0, 2_200.0),  # north-south in the west
    _River((0.0, 1.0), 14_000.0, 1_200.0, 4_000.0),  # east-west in the north
)
# Motorways as polylines of (x, y) metres.
_MOTORWAYS = (
    np.array([[-HALF_W, -9_000.0], [-10_000, -6_000], [5_000, -7_500], [HALF_W, -3_000]]),
    np.array([[-20_000, HALF_H], [-5_000, 5_000], [10_000, -12_000], [18_000, -HALF_H]]),
)


def to_lat_lon(x: F64, y: F64) -> tuple[F64, F64]:
    return _LAT0 + y / METRES_PER_DEGREE, _LON0 + x / _EAST_M_PER_DEG


def _densify(line: F64, step: float) -> F64:
    points = [line[0]]
    for a, b in itertools.pairwise(line):
        count = max(1, int(np.hypot(*(b - a)) // step))
        points += [a + (b - a) * k / count for k in range(1, count + 1)]
    return np.array(points)


def _crosses(
    x: F64, y: F64, u: NDArray[np.intp], v: NDArray[np.intp], line: F64
) -> NDArray[np.bool_]:
    """Which segments u-v cross the polyline `line` (a proper crossing of any piece)."""
    hit = np.zeros(len(u), dtype=bool)
    for (ax, ay), (bx, by) in itertools.pairwise(line):

        def orient(
            px: F64, py: F64, ax: float = ax, ay: float = ay, bx: float = bx, by: float = by
        ) -> F64:
            return np.asarray((bx - ax) * (py - ay) - (by - ay) * (px - ax))

        s1, s2 = orient(x[u], y[u]), orient(x[v], y[v])
        t1 = (x[v] - x[u]) * (ay - y[u]) - (y[v] - y[u]) * (ax - x[u])
        t2 = (x[v] - x[u]) * (by - y[u]) - (y[v] - y[u]) * (bx - x[u])
        hit |= (s1 * s2 < 0) & (t1 * t2 < 0)
    return hit


def _runs(u: NDArray[np.intp], v: NDArray[np.intp]) -> Iterator[list[int]]:
    """Chains of consecutive segments (u[k] -> v[k] == u[k+1]) as node lists."""
    chain: list[int] = []
    for a, b in zip(u.tolist(), v.tolist(), strict=True):
        if chain and chain[-1] == a:
            chain.append(b)
        else:
            if len(chain) > 1:
                yield chain
            chain = [a, b]
    if len(chain) > 1:
        yield chain


def write_county(path: Path, *, seed: int = 2025) -> int:
    """Write the network to `path` (.osm.pbf or .osm); returns the ways written."""
    rng = np.random.default_rng(seed)
    nx_, ny_ = int(2 * HALF_W // SPACING_M) + 1, int(2 * HALF_H // SPACING_M) + 1
    mesh_i, mesh_j = np.meshgrid(np.arange(nx_), np.arange(ny_))
    gi, gj = mesh_i.ravel(), mesh_j.ravel()
    x = gi * SPACING_M - HALF_W + rng.uniform(-25, 25, gi.size)
    y = gj * SPACING_M - HALF_H + rng.uniform(-25, 25, gi.size)
    calls = load_call_locations()
    if calls:  # towns where the calls are; elsewhere thinned to winding lanes
        c = np.array(calls)
        cx, cy = (c[:, 1] - _LON0) * _EAST_M_PER_DEG, (c[:, 0] - _LAT0) * METRES_PER_DEGREE
        near = np.array([len(n) for n in cKDTree(np.column_stack([cx, cy])).query_ball_point(
            np.column_stack([x, y]), 1_500.0)])  # fmt: skip
        town = near >= 3
    else:
        town = np.hypot(x, y) < 15_000
    node = (gj * nx_ + gi).reshape(ny_, nx_)
    segments: list[tuple[NDArray[np.intp], NDArray[np.intp], str, dict[str, str]]] = []

    def grid_lines(rows: NDArray[np.intp], horizontal: bool) -> None:
        for k, line in enumerate(rows):
            u, v = line[:-1], line[1:]
            tags = {"highway": "residential"}
            if k % 32 == 0:
                tags = {"highway": "primary", "maxspeed": "45 mph"}
            elif k % 8 == 0:
                tags = (
                    {"highway": "secondary"}
                    if k % 16
                    else {"highway": "secondary", "maxspeed": "35 mph"}
                )
            elif k % 11 == 0:
                tags = {"highway": "residential", "maxspeed": "25 mph"}
            elif k % 13 == 0 and horizontal:
                tags = {"highway": "residential", "oneway": "yes" if k % 2 else "-1"}
            segments.append((u, v, "grid", tags))

    grid_lines(node, True)
    grid_lines(node.T, False)
    for k in range(24):  # winding tertiary roads: grid nodes along a drifting diagonal
        start_i, start_j = int(rng.integers(0, nx_)), int(rng.integers(0, ny_ // 2))
        slope, phase = rng.uniform(-1.5, 1.5), rng.uniform(0, 2 * math.pi)
        steps = np.arange(min(ny_ - start_j, 300))
        ii = np.clip(start_i + np.round(slope * steps + 6 * np.sin(steps / 15 + phase)), 0, nx_ - 1)
        chain = node[start_j + steps, ii.astype(np.intp)]
        segments.append(
            (chain[:-1], chain[1:], "grid", {"highway": "tertiary", "name": f"Pike {k}"})
        )
    u = np.concatenate([s[0] for s in segments])
    v = np.concatenate([s[1] for s in segments])
    thin = ~(town[u] & town[v])
    keep = (u != v) & ~(thin & (rng.random(len(u)) < 0.35))
    for river in _RIVERS:
        side = river.side(x, y)
        crossing = np.sign(side[u]) != np.sign(side[v])
        along = river.along((x[u] + x[v]) / 2, (y[u] + y[v]) / 2)
        bridges = rng.uniform(-30_000, 30_000, _BRIDGES_PER_RIVER)
        at_bridge = np.abs(along[:, None] - bridges[None, :]).min(axis=1) < SPACING_M * 0.6
        keep &= ~crossing | at_bridge
    lat, lon = to_lat_lon(x, y)
    extra_lat: list[float] = []
    extra_lon: list[float] = []
    motorway_ways: list[tuple[list[int], dict[str, str]]] = []
    for m, polyline in enumerate(_MOTORWAYS):
        line = _densify(polyline, 250.0)
        crossing = _crosses(x, y, u, v, polyline)
        keep &= ~crossing | (rng.random(len(u)) < SPACING_M / _OVERPASS_EVERY_M)  # overpasses
        normal = np.diff(line, axis=0, append=line[-1:] * 2 - line[-2:-1])
        normal = np.column_stack([-normal[:, 1], normal[:, 0]]) / np.hypot(*normal.T)[:, None]
        carriageways = []
        for sign in (1, -1):
            offset = line + sign * 15 * normal
            first = len(lat) + len(extra_lat)
            o_lat, o_lon = to_lat_lon(offset[:, 0], offset[:, 1])
            extra_lat += o_lat.tolist()
            extra_lon += o_lon.tolist()
            ids = list(range(first, first + len(line)))
            carriageways.append(ids if sign == 1 else ids[::-1])
        speed = {"maxspeed": "65 mph"} if m == 0 else {}
        for ids in carriageways:
            motorway_ways.append((ids, {"highway": "motorway", "ref": f"I-{76 + m}", **speed}))
        tree = cKDTree(np.column_stack([x, y]))
        every = int(_INTERCHANGE_EVERY_M // 250)
        for k in range(every // 2, len(line), every):  # ramps both ways, both carriageways
            _, street = tree.query(line[k] + 60 * normal[k])
            a, b = carriageways[0][k], carriageways[1][len(line) - 1 - k]
            for ramp in ([int(street), a], [a, int(street)], [int(street), b], [b, int(street)]):
                motorway_ways.append((ramp, {"highway": "motorway_link", "oneway": "yes"}))
    all_lat = np.concatenate([lat, extra_lat])
    all_lon = np.concatenate([lon, extra_lon])
    if path.exists():
        path.unlink()
    writer = osmium.SimpleWriter(str(path))
    ways = 0
    try:
        for n, (la, lo) in enumerate(zip(all_lat.tolist(), all_lon.tolist(), strict=True)):
            writer.add_node(Node(id=n + 1, location=(lo, la)))
        start = 0
        for seg_u, _, _, tags in segments:
            mask = keep[start : start + len(seg_u)]
            for chain in _runs(
                u[start : start + len(seg_u)][mask], v[start : start + len(seg_u)][mask]
            ):
                ways += 1
                writer.add_way(Way(id=ways, nodes=[c + 1 for c in chain], tags=tags))
            start += len(seg_u)
        for ids, tags in motorway_ways:
            ways += 1
            writer.add_way(Way(id=ways, nodes=[c + 1 for c in ids], tags=tags))
    finally:
        writer.close()
    return ways


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/county.osm.pbf")
    print(f"wrote {target}: {write_county(target):,} ways")
