"""H3 cells: where a responder is filed, and how a search widens around a call.

A responder's position is filed under one H3 cell at `POSITION_RES` (an integer,
so that a database index can serve it). Every coarser cell's descendants at that
resolution form one contiguous integer range, so a search at any resolution asks
for a few ranges of one indexed column.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

from h3.api import basic_int as h3

POSITION_RES = 9  # hexagons with ~200 m edges

# How a search widens: rings at a fine resolution first (dense cities answer
# there), then coarser ones, so that a sparse rural agency needs a handful of
# queries rather than hundreds of rings. Each step is (resolution, largest ring).
LADDER: tuple[tuple[int, int], ...] = ((9, 3), (7, 3), (5, 3), (3, 2))

# H3 cells are not perfect hexagons and vary in size across a disk; the bound
# below is shrunk by this much so it stays a true lower bound.
_DISTORTION = 0.85


@dataclass(frozen=True, slots=True)
class CellRange:
    """All position cells in [lo, hi]: the descendants of one search cell."""

    lo: int
    hi: int


def position_cell(lat: float, lon: float) -> int:
    """The cell a responder at (lat, lon) is filed under."""
    return int(h3.latlng_to_cell(lat, lon, POSITION_RES))


def cell_range(cell: int) -> CellRange:
    """The range of position cells that lie inside `cell`."""
    res = h3.get_resolution(cell)
    lo = int(h3.cell_to_center_child(cell, POSITION_RES))
    # Each finer resolution adds a 3-bit digit (0-6) below the coarser ones; the
    # center child has all of them 0, the last child all 6.
    hi = lo
    for digit in range(res + 1, POSITION_RES + 1):
        hi |= 6 << ((15 - digit) * 3)
    return CellRange(lo=lo, hi=hi)


@dataclass(frozen=True, slots=True)
class Ring:
    """One step of a search: the new cells, and how far the whole search now reaches."""

    ranges: tuple[CellRange, ...]
    covered_m: float  # nobody outside the cells searched so far is nearer than this


def rings_around(lat: float, lon: float) -> Iterator[Ring]:
    """Widen outward from (lat, lon) along `LADDER`, one ring of cells at a time.

    Changing resolution starts again at ring 0 of the coarser grid, which covers
    what was already searched: callers drop candidates they have already seen.
    """
    for res, largest in LADDER:
        origin = h3.latlng_to_cell(lat, lon, res)
        edge_m = math.sqrt(2 * h3.cell_area(origin, unit="m^2") / (3 * math.sqrt(3)))
        for k in range(largest + 1):
            cells = [origin] if k == 0 else h3.grid_ring(origin, k)
            yield Ring(
                ranges=tuple(cell_range(c) for c in cells),
                covered_m=disk_reach_m(k, edge_m),
            )


def disk_reach_m(k: int, edge_m: float) -> float:
    """Lower bound on the distance from a point in the centre cell to any point
    outside the disk of radius k.

    On a hexagonal lattice with edge e, cells k+1 steps away have centres at least
    1.5(k+1)e from the centre cell's centre, and each point lies within e of its
    own cell's centre: (1.5(k+1) - 2)e.
    """
    return max(0.0, (1.5 * (k + 1) - 2) * edge_m * _DISTORTION)
