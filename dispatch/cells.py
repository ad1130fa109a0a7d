"""H3 cells: where a responder is filed, and how a search widens around a call.

A responder's position is filed under one H3 cell at `POSITION_RES` (an integer,
so that a database index can serve it). Every coarser cell's descendants at that
resolution form one contiguous integer range, so a search at any resolution asks
for a few ranges of one indexed column.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from h3.api import basic_int as h3

POSITION_RES = 10  # hexagons with ~76 m edges (migration 0005 refiles positions)

# How a search widens: rings at a fine resolution first (dense cities answer
# there), then coarser ones, so that a sparse rural agency needs a handful of
# queries rather than hundreds of rings. Each step is (resolution, largest ring);
# a step reaches about 0.85 x (1.5 k - 0.5) edges: 0.3 km at res 10, 1.9 km at
# 8, 13 km at 6, 90 km at 4, and 180 km at 3. Chosen by bench/dispatch_decision.py.
LADDER: tuple[tuple[int, int], ...] = ((10, 3), (8, 3), (6, 3), (4, 3), (3, 2))

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


# Each finer resolution adds a 3-bit digit (0-6) below the coarser ones: a cell's
# center child at POSITION_RES has all the added digits 0, its last child all 6.
_LAST_CHILD_DIGITS = tuple(
    sum(6 << ((15 - digit) * 3) for digit in range(res + 1, POSITION_RES + 1))
    for res in range(POSITION_RES + 1)
)


def cell_range(cell: int, res: int | None = None) -> CellRange:
    """The range of position cells that lie inside `cell` (of resolution `res`)."""
    if res is None:
        res = h3.get_resolution(cell)
    lo = h3.cell_to_center_child(cell, POSITION_RES)
    return CellRange(lo=lo, hi=lo | _LAST_CHILD_DIGITS[res])


@dataclass(frozen=True, slots=True)
class Ring:
    """One step of a search: the new cells, and how far the whole search now reaches."""

    ranges: tuple[CellRange, ...]
    covered_m: float  # nobody outside the cells searched so far is nearer than this


def rings_around(
    lat: float, lon: float, ladder: tuple[tuple[int, int], ...] = LADDER
) -> Iterator[Ring]:
    """Widen outward from (lat, lon) along `ladder`, one ring of cells at a time.

    Changing resolution starts again at the centre of the coarser grid, which covers
    what was already searched: callers drop candidates they have already seen.
    """
    for res, largest in ladder:
        origin = h3.latlng_to_cell(lat, lon, res)
        edge_m = edge_length_m(origin)
        # The centre cell alone rules nobody out (the call may sit on its edge),
        # so the first step is the whole disk of radius 1.
        for k in range(1, largest + 1):
            yield Ring(ranges=_ring_ranges(origin, res, k), covered_m=disk_reach_m(k, edge_m))


@lru_cache(maxsize=16_384)
def _ring_ranges(origin: int, res: int, k: int) -> tuple[CellRange, ...]:
    """The ranges of one ring (k=1: the whole disk of radius 1). Cached: calls in one
    area share their coarse rings, which are the most cells."""
    cells = h3.grid_disk(origin, 1) if k == 1 else h3.grid_ring(origin, k)
    return tuple(cell_range(c, res) for c in cells)


def disk_reach_m(k: int, edge_m: float) -> float:
    """Lower bound on the distance from a point in the centre cell to any point
    outside the disk of radius k.

    On a hexagonal lattice with edge e, cells k+1 steps away have centres at least
    1.5(k+1)e from the centre cell's centre, and each point lies within e of its
    own cell's centre: (1.5(k+1) - 2)e.
    """
    return max(0.0, (1.5 * (k + 1) - 2) * edge_m * _DISTORTION)


def edge_length_m(cell: int) -> float:
    """The edge of the regular hexagon with `cell`'s area: what `disk_reach_m` takes."""
    return math.sqrt(2 * h3.cell_area(cell, unit="m^2") / (3 * math.sqrt(3)))


def rings_to_cover(metres: float, edge_m: float) -> int:
    """The least k >= 1 for which the disk of radius k around the cell of any point
    holds every point within `metres` of it (`disk_reach_m(k, edge_m) >= metres`)."""
    k = max(1, math.ceil((metres / (edge_m * _DISTORTION) + 2) / 1.5 - 1))
    while disk_reach_m(k, edge_m) < metres:  # what the division rounded away
        k += 1
    return k


def ranges_of(cells: Iterable[int]) -> list[CellRange]:
    """The position cells inside any of `cells` (distinct, all of one resolution no
    finer than `POSITION_RES`), as few ranges as H3 numbering allows: seven siblings
    are their parent's one range, and ranges with no position cell between them one."""
    spans = []
    for cell in h3.compact_cells(list(cells)):
        res = (cell >> _RES_SHIFT) & 0xF
        lo = (cell & ~_RES_BITS | _POSITION_RES_BITS) & ~_DIGITS_BELOW[res]
        shift = (15 - res) * 3
        # The least position cell after this one's: the next sibling's first, or
        # (after the seventh sibling) counted on.
        hi = lo | _LAST_CHILD_DIGITS[res]
        after = lo + (1 << shift) if (cell >> shift) & 7 < 6 else _next_position_cell(hi)
        spans.append((lo, hi, after))
    spans.sort()
    merged: list[list[int]] = []  # [lo, hi, after] each
    for lo, hi, after in spans:
        if merged and merged[-1][2] == lo:
            merged[-1][1:] = hi, after
        else:
            merged.append([lo, hi, after])
    return [CellRange(lo=lo, hi=hi) for lo, hi, _ in merged]


# An H3 index: the resolution in bits 52-55, then a 3-bit digit a resolution, 7 for
# those finer than the cell's own.
_RES_SHIFT = 52
_RES_BITS = 0xF << _RES_SHIFT
_POSITION_RES_BITS = POSITION_RES << _RES_SHIFT
_DIGITS_BELOW = tuple(
    sum(7 << ((15 - digit) * 3) for digit in range(res + 1, POSITION_RES + 1))
    for res in range(POSITION_RES + 1)
)


def _next_position_cell(cell: int) -> int:
    """The least position cell after `cell` in H3 numbering (its digits counted in
    base 7), or -1 past its base cell."""
    for digit in range(POSITION_RES, 0, -1):
        shift = (15 - digit) * 3
        if (cell >> shift) & 7 < 6:
            return cell + (1 << shift)
        cell &= ~(7 << shift)
    return -1


def clear_ring_cache() -> None:
    """Forget cached ring ranges (for benchmarks that must start cold)."""
    _ring_ranges.cache_clear()
