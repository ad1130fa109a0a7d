"""From an OpenStreetMap extract (`.osm.pbf`, `.osm` XML, compressed or not) to the
car routing graph of `service/routing/graph.py`.

Car-drivable highway classes only; one-ways respected (`oneway=yes/-1`, motorways
and roundabouts implied); the speed of a way is its `maxspeed` (km/h, or "mph")
else its class's default. Every OSM node of a kept way stays a graph node, so a
point snaps to the road it is on, not to the next junction. Pieces of network that
no car can both enter and leave (fewer than `min_component_nodes` nodes strongly
connected: parking aisles, a mapped fragment at the extract's edge) are left out,
and so are the few roads from one strongly connected part into another it never
returns from: a route then exists exactly when both ends share a part.
"""

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import osmium
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from service.routing.graph import GraphArrays
from service.routing.sphere import lengths_m

# Free-flow car speeds by class, km/h, where a way has no usable maxspeed: about
# OSRM's car profile. The classes not here (footway, track, path, ...) are not built.
DEFAULT_KMH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 100.0,
        "motorway_link": 60.0,
        "trunk": 85.0,
        "trunk_link": 50.0,
        "primary": 65.0,
        "primary_link": 45.0,
        "secondary": 55.0,
        "secondary_link": 40.0,
        "tertiary": 45.0,
        "tertiary_link": 35.0,
        "unclassified": 35.0,
        "residential": 30.0,
        "living_street": 10.0,
        "service": 15.0,
        "road": 30.0,
    }
)
_MPH_KMH = 1.609344
_PLAUSIBLE_KMH = (5.0, 150.0)
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?\s*$")
_YES = frozenset({"yes", "true", "1"})
_NO_CARS = frozenset({"no"})
_IMPLIED_ONEWAY = frozenset({"motorway"})
_ROUNDABOUT = frozenset({"roundabout", "circular"})


class ExtractError(ValueError):
    """The extract cannot make a road graph; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class Built:
    graph: GraphArrays
    seconds: float
    left_out_nodes: int  # road nodes in pieces too small to route through


def parse_maxspeed_kmh(value: str | None) -> float | None:
    """km/h from an OSM `maxspeed`: "50", "50 km/h", "30 mph"; of a list ("50;30")
    the first. None for what is not a speed ("RU:urban", "none", "signals", "walk")
    or not a plausible car speed (outside 5-150 km/h)."""
    if not value:
        return None
    match = _MAXSPEED.match(value.split(";")[0])
    if match is None:
        return None
    kmh = float(match.group(1)) * (_MPH_KMH if match.group(2) == "mph" else 1.0)
    low, high = _PLAUSIBLE_KMH
    return kmh if low <= kmh <= high else None


def way_direction(tags: Mapping[str, str]) -> int:
    """1 drivable along the way's node order only, -1 against it only, 0 both."""
    oneway = tags.get("oneway", "")
    if oneway in _YES:
        return 1
    if oneway in ("-1", "reverse"):
        return -1
    if oneway in ("no", "false", "0"):
        return 0
    implied = tags.get("highway") in _IMPLIED_ONEWAY or tags.get("junction") in _ROUNDABOUT
    return 1 if implied else 0


def _car_speed_kmh(tags: Mapping[str, str]) -> float | None:
    """The way's speed, or None when cars may not drive it."""
    default = DEFAULT_KMH.get(tags.get("highway", ""))
    if default is None or tags.get("area") == "yes" or tags.get("oneway") == "reversible":
        return None
    if any(tags.get(key) in _NO_CARS for key in ("access", "vehicle", "motor_vehicle", "motorcar")):
        return None
    return parse_maxspeed_kmh(tags.get("maxspeed")) or default


@dataclass
class _Ways:
    """The drivable ways as flat lists: every way's node refs and locations in turn."""

    refs: list[int]
    lat: list[float]
    lon: list[float]
    sizes: list[int]
    kmh: list[float]
    direction: list[int]


def _read(extract: Path) -> _Ways:
    if not extract.is_file():
        raise ExtractError(f"{extract}: no such file")
    if extract.stat().st_size == 0:
        raise ExtractError(f"{extract}: the file is empty, not an OpenStreetMap extract")
    ways = _Ways([], [], [], [], [], [])
    try:
        processor = (
            osmium.FileProcessor(str(extract), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = dict(way.tags)
            kmh = _car_speed_kmh(tags)
            if kmh is None or len(way.nodes) < 2:
                continue
            for node in way.nodes:
                ways.refs.append(node.ref)
                located = node.location.valid()  # a node cut off by the extract's edge
                ways.lat.append(node.lat if located else math.nan)
                ways.lon.append(node.lon if located else math.nan)
            ways.sizes.append(len(way.nodes))
            ways.kmh.append(kmh)
            ways.direction.append(way_direction(tags))
    except RuntimeError as exc:
        raise ExtractError(
            f"{extract}: not a readable OpenStreetMap extract (.osm.pbf or .osm): {exc}"
        ) from None
    if not ways.sizes:
        raise ExtractError(f"{extract}: no roads a car can drive in this extract")
    return ways


def build_graph(extract: Path, *, min_component_nodes: int = 30) -> Built:
    """Read `extract` and make the graph, or raise ExtractError saying what is wrong."""
    started = time.perf_counter()
    ways = _read(extract)
    refs = np.array(ways.refs, dtype=np.int64)
    ids, first, node = np.unique(refs, return_index=True, return_inverse=True)
    lat = np.array(ways.lat)[first]
    lon = np.array(ways.lon)[first]
    sizes = np.array(ways.sizes)
    # Segment i joins positions i and i+1 of the flat lists, unless a way ends at i.
    ends = np.cumsum(sizes) - 1
    within = np.ones(len(refs) - 1, dtype=bool)
    within[ends[:-1]] = False
    kmh = np.repeat(np.array(ways.kmh), sizes)[:-1][within]
    direction = np.repeat(np.array(ways.direction), sizes)[:-1][within]
    u, v = node[:-1][within], node[1:][within]
    keep = (u != v) & np.isfinite(lat[u]) & np.isfinite(lat[v])
    u, v, kmh, direction = u[keep], v[keep], kmh[keep], direction[keep]
    forward, backward = direction >= 0, direction <= 0
    tail = np.concatenate([u[forward], v[backward]])
    head = np.concatenate([v[forward], u[backward]])
    speed_kmh = np.concatenate([kmh[forward], kmh[backward]])
    metres = lengths_m(lat[tail], lon[tail], lat[head], lon[head])
    length_dm = np.ceil(metres * 10)
    time_ms = np.maximum(1.0, np.ceil(length_dm / 10 / (speed_kmh / 3.6) * 1000))
    graph, left_out = _assemble(
        extract, len(ids), lat, lon, tail, head, time_ms, length_dm, speed_kmh, min_component_nodes
    )
    return Built(graph=graph, seconds=time.perf_counter() - started, left_out_nodes=left_out)


def _assemble(
    extract: Path,
    n: int,
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    tail: NDArray[np.intp],
    head: NDArray[np.intp],
    time_ms: NDArray[np.float64],
    length_dm: NDArray[np.float64],
    speed_kmh: NDArray[np.float64],
    min_component_nodes: int,
) -> tuple[GraphArrays, int]:
    """Keep the fastest of parallel edges and the parts big enough, then lay the
    edges out reversed (by head node), as the search reads them."""
    order = np.lexsort((length_dm, time_ms, head, tail))
    tail, head = tail[order], head[order]
    fresh = np.ones(len(order), dtype=bool)
    fresh[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    picked = order[fresh]
    tail, head = tail[fresh], head[fresh]
    time_ms, length_dm, speed_kmh = time_ms[picked], length_dm[picked], speed_kmh[picked]
    forward = csr_matrix((np.ones(len(tail)), (tail, head)), shape=(n, n))
    _, label = connected_components(forward, directed=True, connection="strong")
    size = np.bincount(label)
    big = size[label] >= min_component_nodes
    kept = big[tail] & (label[tail] == label[head])
    used = np.zeros(n, dtype=bool)
    used[tail[kept]] = True
    if not used.any():
        raise ExtractError(
            f"{extract}: no connected road network a car can drive in this extract "
            f"(no piece of at least {min_component_nodes} nodes)"
        )
    renumber = np.cumsum(used) - 1
    tail, head = renumber[tail[kept]], renumber[head[kept]]
    time_ms, length_dm, speed_kmh = time_ms[kept], length_dm[kept], speed_kmh[kept]
    _, component = np.unique(label[used], return_inverse=True)
    by_head = np.lexsort((tail, head))
    count = int(used.sum())
    indptr = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.bincount(head, minlength=count), out=indptr[1:])
    graph = GraphArrays(
        lat=lat[used],
        lon=lon[used],
        indptr=indptr,
        tails=tail[by_head].astype(np.int32),
        time_ms=time_ms[by_head].astype(np.uint32),
        length_dm=length_dm[by_head].astype(np.uint32),
        component=component.astype(np.int32),
        fastest_mps=float(speed_kmh.max()) / 3.6,
        source=extract.name,
    )
    return graph, int(np.count_nonzero(np.isfinite(lat))) - count
