"""The road engine `CORESPOND_ROUTING` names, built once at start-up."""

from pathlib import Path

from dispatch.roads import RoadTimes
from service.settings import GEODESIC, ROUTING_SERVERS


def road_times(
    routing: str, *, timeout_s: float, snap_limit_m: float, fastest_mps: float
) -> RoadTimes | None:
    """The engine `routing` names (checked by `settings.check_routing`); None for `geodesic`."""
    if routing == GEODESIC:
        return None
    # Imported here: the default needs neither scipy's graphs nor an HTTP client in memory.
    if routing.startswith(ROUTING_SERVERS):
        from service.routing.remote import remote_from_url

        return remote_from_url(
            routing, timeout_s=timeout_s, fastest_mps=fastest_mps, snap_limit_m=snap_limit_m
        )
    from service.routing.graph import RoadGraph

    return RoadGraph.load(Path(routing), snap_limit_m=snap_limit_m)
