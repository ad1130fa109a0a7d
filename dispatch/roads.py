"""Road travel: what every road engine answers (an embedded graph, OSRM, Valhalla).

The decision asks one question per call and seat kind: from each of these
responders' positions to the call, how long by road and how far. An engine that
cannot answer (down, too slow, an error, the call off its network) raises
`RoutingUnavailable`, and the decision falls back to the geodesic estimate for
that call, saying so. The implementations that read files or the network live in
`service/routing/`; this module stays pure.

Before it asks, the decision must find everyone who could arrive first. The
straight line at the engine's fastest road bounds every trip, but loosely: a
motorway makes it search three times as far as the town's streets need. An
engine that can say where a trip within a time can start at all (`reach`) spares
the decision everyone else.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dispatch.travel import Point, Travel

# The answer for an origin whose trip takes longer than the `within_s` asked: its
# exact figures were not worked out. Not a route's: it is never ranked or reported.
BEYOND = Travel(distance_m=math.inf, eta_s=math.inf)


class RoutingUnavailable(Exception):
    """The engine could not answer for this call; the message says why, in words a
    dispatcher reads ("the routing server did not answer within 200 ms")."""


@dataclass(frozen=True, slots=True)
class Reach:
    """Where a trip to a call can start and take at most `within_s` by road, as the
    engine's `to_one` would report it: somewhere in `cells` (distinct H3 cells, all of
    one resolution, no finer than a position cell). From anywhere else the trip takes
    longer, or has no road route at all; every point nearer the call than
    `all_routed_m` has one. Every point of `cells[i]` has a road route taking at
    least `least_s[i]`, unless that is 0 (some point may have none); the cells come
    in the order of `least_s`. The caller estimates a trip with no route in a
    straight line, and bounds that itself."""

    within_s: float
    cells: tuple[int, ...]
    least_s: tuple[float, ...]
    all_routed_m: float = 0.0


class RoadTimes(Protocol):
    """Road travel times from many origins to one destination, as one query."""

    @property
    def name(self) -> str:
        """What made the estimate, as a plan or an offer names it: "road graph
        county.roads", "OSRM at osrm.local:5000"."""
        ...

    @property
    def fastest_mps(self) -> float:
        """No trip is faster than its geodesic length over this speed (metres a
        second): the engine's fastest road. The search's lower bound rests on it."""
        ...

    def to_one(
        self, origins: Sequence[Point], dest: Point, *, within_s: float | None = None
    ) -> list[Travel | None]:
        """Road travel from each origin to `dest`, in the origins' order: road
        distance and driving time, including the legs from each point to the
        nearest road. None for an origin with no road route to `dest` (off the
        network, or on a part of it that does not connect). Raises
        `RoutingUnavailable` when `dest` itself is off the network or the engine
        cannot answer.

        With `within_s`, the caller needs exact figures only for trips of at most
        that many seconds: an origin whose trip (as this engine would report it)
        takes longer may be answered `BEYOND`, sparing the search beyond it. An
        engine may answer exactly anyway (a server computes its whole table); None
        still means no road route at all."""
        ...

    def reach(self, dest: Point, within_s: float) -> Reach | None:
        """Where a trip to `dest` taking at most `within_s` (finite) can start, or
        None when this engine can say no more than `fastest_mps` does (a routing
        server). Raises `RoutingUnavailable` as `to_one` does. An engine that
        searches outward from `dest` knows this from the search that `to_one`
        with the same `dest` and no larger `within_s` then reuses."""
        ...
