"""A small town as an OpenStreetMap XML file, for the road-network tests.

A grid of residential streets 100 m apart, 3 km east-west, split by an east-west
river between the south bank street (y = 1,500 m) and the north bank street
(y = 1,600 m). One road bridge crosses it, at x = 2,800 m; a footbridge at
x = 1,000 m that no car may use. The south bank street is signed "25 mph"; one
street in the south (y = 100 m) is one-way eastbound. A separate six-by-six grid,
1 km east of the town, connects to nothing.

The scenario the issue names: a call on the south bank at x = 1,000 m; a clinician
300 m away across the river (the nearest by air, 3,900 m by road round the
bridge), and another 1.5 km away on the call's side (2,100 m by road).
Coordinates are metres east (x) and north (y) of the town's south-west corner.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from dispatch.travel import Point

SW_LAT, SW_LON = 40.0, -75.3
SPACING_M = 100
WIDTH_M = 3_000
SOUTH_BANK_Y = 1_500
NORTH_BANK_Y = 1_600
TOP_Y = 2_500
BRIDGE_X = 2_800
FOOTBRIDGE_X = 1_000
ONEWAY_Y = 100
ISLAND_X, ISLAND_SIZE = 4_000, 6
SOUTH_BANK_MPH = 25
RESIDENTIAL_KMH = 30.0  # service/routing/build.py's default for an unsigned street

_A, _F = 6_378_137.0, 1 / 298.257223563
_E2 = _F * (2 - _F)


def point(x: float, y: float) -> Point:
    """The point x metres east and y metres north of the south-west corner."""
    phi = math.radians(SW_LAT)
    w = 1 - _E2 * math.sin(phi) ** 2
    north_m_per_deg = math.radians(1) * _A * (1 - _E2) / w**1.5
    east_m_per_deg = math.radians(1) * _A / math.sqrt(w) * math.cos(phi)
    return Point(SW_LAT + y / north_m_per_deg, SW_LON + x / east_m_per_deg)


@dataclass(frozen=True, slots=True)
class Town:
    path: Path
    call: Point  # on the south bank street
    across_river: Point  # 300 m north of the call, on the north bank side
    same_side: Point  # 1.5 km from the call: 900 m east, 1,200 m south
    bridge: Point  # the south end of the road bridge
    oneway_west: Point  # the one-way street's west end: it runs east from here
    oneway_east: Point  # 300 m east along it
    island: Point  # on the grid that connects to nothing
    off_road: Point  # 2 km south of the town, far from every road


CALL_XY = (1_000, SOUTH_BANK_Y)
ACROSS_RIVER_XY = (1_000, SOUTH_BANK_Y + 300)
SAME_SIDE_XY = (1_900, SOUTH_BANK_Y - 1_200)


class _Writer:
    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], int] = {}
        self.lines: list[str] = []
        self._next_way = 1

    def node(self, x: int, y: int) -> int:
        if (x, y) not in self.nodes:
            self.nodes[(x, y)] = len(self.nodes) + 1
        return self.nodes[(x, y)]

    def way(self, points: list[tuple[int, int]], **tags: str) -> None:
        refs = "".join(f'<nd ref="{self.node(x, y)}"/>' for x, y in points)
        tagged = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        self.lines.append(f'<way id="{self._next_way}" version="1">{refs}{tagged}</way>')
        self._next_way += 1


def _street(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    steps = max(abs(x1 - x0), abs(y1 - y0)) // SPACING_M
    return [(x0 + (x1 - x0) * i // steps, y0 + (y1 - y0) * i // steps) for i in range(steps + 1)]


def write_town(directory: Path, name: str = "town.osm") -> Town:
    """Write the town into `directory` as OSM XML; returns where things are."""
    w = _Writer()
    for y in range(0, TOP_Y + 1, SPACING_M):
        if SOUTH_BANK_Y < y < NORTH_BANK_Y:
            continue
        tags = {"highway": "residential", "name": f"{y // SPACING_M} Street"}
        if y == SOUTH_BANK_Y:
            tags["maxspeed"] = f"{SOUTH_BANK_MPH} mph"
        if y == ONEWAY_Y:
            tags["oneway"] = "yes"
        w.way(_street(0, y, WIDTH_M, y), **tags)
    for x in range(0, WIDTH_M + 1, SPACING_M):
        avenue = {"highway": "residential", "name": f"Avenue {x // SPACING_M}"}
        w.way(_street(x, 0, x, SOUTH_BANK_Y), **avenue)
        w.way(_street(x, NORTH_BANK_Y, x, TOP_Y), **avenue)
    w.way([(BRIDGE_X, SOUTH_BANK_Y), (BRIDGE_X, NORTH_BANK_Y)], highway="residential", bridge="yes")
    w.way([(FOOTBRIDGE_X, SOUTH_BANK_Y), (FOOTBRIDGE_X, NORTH_BANK_Y)], highway="footway")
    river_y = (SOUTH_BANK_Y + NORTH_BANK_Y) // 2
    w.way([(-500, river_y), (WIDTH_M + 500, river_y)], waterway="river", name="Town River")
    side = (ISLAND_SIZE - 1) * SPACING_M
    for i in range(ISLAND_SIZE):
        at = i * SPACING_M
        w.way(_street(ISLAND_X, at, ISLAND_X + side, at), highway="residential")
        w.way(_street(ISLAND_X + at, 0, ISLAND_X + at, side), highway="residential")
    nodes = []
    for (x, y), node_id in w.nodes.items():
        p = point(x, y)
        nodes.append(f'<node id="{node_id}" version="1" lat="{p.lat:.9f}" lon="{p.lon:.9f}"/>')
    path = directory / name
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="corespond tests">\n'
        + "\n".join(nodes + w.lines)
        + "\n</osm>\n"
    )
    return Town(
        path=path,
        call=point(*CALL_XY),
        across_river=point(*ACROSS_RIVER_XY),
        same_side=point(*SAME_SIDE_XY),
        bridge=point(BRIDGE_X, SOUTH_BANK_Y),
        oneway_west=point(0, ONEWAY_Y),
        oneway_east=point(300, ONEWAY_Y),
        island=point(ISLAND_X + 200, 200),
        off_road=point(WIDTH_M // 2, -2_000),
    )
