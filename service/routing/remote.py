"""Road travel times from a routing server the operator runs: OSRM's `table` service
or Valhalla's `sources_to_targets`, over HTTP (`CORESPOND_ROUTING=osrm+http://host:port`).

One deadline bounds a whole query: waiting for a pooled connection, connecting,
sending, every read, and every request of a batch split to fit the server's limit.
httpx's timeouts bound each phase separately (a read timeout restarts with every
chunk), so the requests run on a small thread pool and the caller waits on them no
longer than the deadline; each request also carries phase timeouts no longer than
what was left, and stops reading at the deadline, so an abandoned one ends soon after.

Whatever goes wrong raises `RoutingUnavailable` with a sentence a dispatcher reads.
Credentials in the URL go to the server as HTTP basic auth and nowhere else: never
into `name`, a message or a log.
"""

import json
import math
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from dispatch.roads import Reach, RoadTimes, RoutingUnavailable
from dispatch.travel import Point, Travel, haversine_m

SNAP_MPS = 5.0  # the leg between a point and its road (a driveway, a car park) is slow
OSRM_MAX_ORIGINS = 100  # osrm-routed's default --max-table-size
VALHALLA_MAX_ORIGINS = 50  # valhalla's default service_limits for sources_to_targets
_MAX_ANSWER_BYTES = 4 << 20  # a table of a few hundred origins is tens of kilobytes
_WORKERS = 4  # requests in flight at once, across the concurrent decisions
_ENGINES = ("osrm", "valhalla")
# Valhalla's error codes: no route from any origin (unconnected regions; no path found),
# and a point it could not place on a road.
_VALHALLA_NO_ROUTE = (170, 442)
_VALHALLA_NO_ROAD = 171


class WrongShape(Exception):
    """An answer that parsed as JSON but is not the table asked for."""


@dataclass(frozen=True, slots=True)
class Server:
    """Where a routing server is: its base URL without credentials, the `host:port`
    that names it, and the basic-auth credentials the URL carried, if any."""

    base: str
    where: str
    auth: tuple[str, str] | None = None


def parse_routing_url(url: str) -> tuple[str, Server]:
    """The engine (`osrm` or `valhalla`) and server a `CORESPOND_ROUTING` URL names.
    Raises ValueError, saying what is wrong, for anything else."""
    shown = re.sub(r"//[^/@]*@", "//***@", url)  # a message never repeats a password
    allowed = (
        "osrm+http://host:port, osrm+https://…, valhalla+http://host:port or valhalla+https://…"
    )
    parts = urlsplit(url.strip())
    engine, _, transport = parts.scheme.lower().partition("+")
    if engine not in _ENGINES or transport not in ("http", "https"):
        raise ValueError(f"the routing server URL {shown!r} must start with {allowed}")
    if not parts.hostname:
        raise ValueError(f"the routing server URL {shown!r} names no host: {allowed}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(
            f"the routing server URL {shown!r} has a port that is not a number from 0 to 65535"
        ) from None
    if parts.query or parts.fragment:
        raise ValueError(f"the routing server URL {shown!r} takes no query (?…) or fragment (#…)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    where = host if port is None else f"{host}:{port}"
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    base = f"{transport}://{where}{parts.path.rstrip('/')}"
    return engine, Server(base=base, where=where, auth=auth)


def remote_from_url(
    url: str,
    *,
    timeout_s: float,
    fastest_mps: float,
    snap_limit_m: float,
    max_origins: int | None = None,
) -> RoadTimes:
    """The client for the routing server `url` names (see `parse_routing_url`), with
    `timeout_s` for a whole query, the network's `fastest_mps`, and `snap_limit_m` the
    farthest a point may be from its road. `max_origins` per request defaults to the
    server's own default limit. Nothing is sent until the first query."""
    engine, server = parse_routing_url(url)
    kind = OsrmTable if engine == "osrm" else ValhallaMatrix
    return kind(
        server,
        timeout_s=timeout_s,
        fastest_mps=fastest_mps,
        snap_limit_m=snap_limit_m,
        max_origins=kind.default_max_origins if max_origins is None else max_origins,
    )


class _RoutingServer:
    """What both engines share: the HTTP client, the deadline, batches and failures.
    Safe to call from many threads at once."""

    engine = ""
    default_max_origins = 1

    def __init__(
        self,
        server: Server,
        *,
        timeout_s: float,
        fastest_mps: float,
        snap_limit_m: float,
        max_origins: int,
    ) -> None:
        if not (timeout_s > 0 and fastest_mps > 0 and snap_limit_m >= 0 and max_origins >= 1):
            raise ValueError(
                "a routing server needs a timeout and a fastest speed above 0, a snap limit "
                f"of 0 m or more and at least one origin a request; got timeout {timeout_s} s, "
                f"{fastest_mps} m/s, {snap_limit_m} m, {max_origins} origins"
            )
        self._server = server
        self._timeout_s = timeout_s
        self._fastest_mps = fastest_mps
        self.snap_limit_m = snap_limit_m
        self.max_origins = max_origins
        self._client = httpx.Client(
            base_url=server.base,
            auth=httpx.BasicAuth(*server.auth) if server.auth else None,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix=f"routing-{self.engine}")

    @property
    def name(self) -> str:
        return f"{self.engine} at {self._server.where}"

    @property
    def fastest_mps(self) -> float:
        return self._fastest_mps

    def close(self) -> None:
        """Stop: no new queries; requests in flight end at their own timeouts."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def to_one(
        self, origins: Sequence[Point], dest: Point, *, within_s: float | None = None
    ) -> list[Travel | None]:
        """As `RoadTimes.to_one`; always exact: the server works out its whole table
        whatever the caller needs, so `within_s` is accepted and spares nothing."""
        if not origins:
            return []
        deadline = time.monotonic() + self._timeout_s
        step = self.max_origins
        batches = [origins[i : i + step] for i in range(0, len(origins), step)]
        asked = [self._pool.submit(self._ask, batch, dest, deadline) for batch in batches]
        _, late = wait(asked, timeout=max(0.0, deadline - time.monotonic()))
        if late:
            for request in late:
                request.cancel()
            raise self._too_slow()
        travel: list[Travel | None] = []
        for request in asked:
            travel.extend(request.result())  # RoutingUnavailable, the first batch's first
        return travel

    def reach(self, dest: Point, within_s: float) -> Reach | None:
        """None: a table says how long from the origins asked, not from where else a
        trip could start in time; the search bounds that by `fastest_mps` itself."""
        return None

    def unavailable(self, what: str) -> RoutingUnavailable:
        """The error for a server that answered badly: `what` continues
        "the routing server at host:port …"."""
        return RoutingUnavailable(f"the routing server at {self._server.where} {what}")

    def off_road(self, how_far: str) -> RoutingUnavailable:
        """The call is off the network: `how_far` is "is 850 m from" or "is not near"."""
        return RoutingUnavailable(
            f"the call {how_far} the nearest road {self.name} knows "
            f"(a call may be at most {self.snap_limit_m:.0f} m from one)"
        )

    def door_to_door(self, road_m: float, road_s: float, *snaps_m: float) -> Travel:
        """A road trip with the legs between each end and its road added (slowly)."""
        legs = sum(snaps_m)
        return Travel(distance_m=road_m + legs, eta_s=road_s + legs / SNAP_MPS)

    def _too_slow(self) -> RoutingUnavailable:
        return self.unavailable(f"did not answer within {self._timeout_s * 1000:.0f} ms")

    def _ask(self, batch: Sequence[Point], dest: Point, deadline: float) -> list[Travel | None]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._too_slow()  # queued behind other requests past the deadline
        try:
            request = self._request(batch, dest)
            request.extensions["timeout"] = httpx.Timeout(left).as_dict()
            response = self._client.send(request, stream=True)
            try:
                body, status = self._body(response, deadline), response.status_code
            finally:
                response.close()
        except httpx.TimeoutException:
            raise self._too_slow() from None
        except httpx.ConnectError:
            raise self.unavailable("could not be reached (is it running?)") from None
        except httpx.HTTPError as exc:
            raise self.unavailable(f"failed mid-answer ({type(exc).__name__})") from None
        try:
            return self._read(status, body, batch, dest)
        except (WrongShape, LookupError, TypeError, ValueError) as exc:
            fault = str(exc) if isinstance(exc, WrongShape) else f"{type(exc).__name__} reading it"
            raise self.unavailable(f"sent an answer of the wrong shape: {fault}") from None

    def _body(self, response: httpx.Response, deadline: float) -> Any:
        """The answer's JSON, read no longer than the deadline and no larger than the cap."""
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > _MAX_ANSWER_BYTES:
                raise self.unavailable(f"sent an answer larger than {_MAX_ANSWER_BYTES} bytes")
            if time.monotonic() > deadline:
                raise self._too_slow()
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except ValueError:
            if response.status_code != 200:
                raise self.unavailable(f"answered HTTP {response.status_code}") from None
            raise self.unavailable("sent an answer that is not JSON") from None

    def _request(self, batch: Sequence[Point], dest: Point) -> httpx.Request:
        raise NotImplementedError

    def _read(
        self, status: int, body: Any, batch: Sequence[Point], dest: Point
    ) -> list[Travel | None]:
        raise NotImplementedError


class OsrmTable(_RoutingServer):
    """OSRM's `table` service: `GET /table/v1/driving/{lon,lat;…}` with the origins as
    sources and the call as the one destination, durations and distances annotated."""

    engine = "OSRM"
    default_max_origins = OSRM_MAX_ORIGINS

    def _request(self, batch: Sequence[Point], dest: Point) -> httpx.Request:
        points = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in (*batch, dest))
        sources = ";".join(str(i) for i in range(len(batch)))
        # Built by hand: OSRM reads `;` and `,` literally; a client's encoding would escape them.
        path = (
            f"/table/v1/driving/{points}?sources={sources}&destinations={len(batch)}"
            "&annotations=duration,distance"
        )
        return self._client.build_request("GET", path)

    def _read(
        self, status: int, body: Any, batch: Sequence[Point], dest: Point
    ) -> list[Travel | None]:
        if not isinstance(body, dict):
            raise WrongShape("not a JSON object")
        code = body.get("code")
        if code != "Ok":
            raise self.unavailable(_osrm_refusal(code, status))
        count = len(batch)
        durations, distances = _rows(body, "durations", count), _rows(body, "distances", count)
        sources, destinations = _rows(body, "sources", count), _rows(body, "destinations", 1)
        dest_snap = _number(destinations[0]["distance"])
        if dest_snap > self.snap_limit_m:
            raise self.off_road(f"is {dest_snap:.0f} m from")
        travel: list[Travel | None] = []
        for i in range(count):
            snap = _number(sources[i]["distance"])
            seconds, metres = durations[i][0], distances[i][0]
            if seconds is None or metres is None or snap > self.snap_limit_m:
                travel.append(None)  # no route, or the responder is too far from a road
            else:
                road_m, road_s = _number(metres), _number(seconds)
                travel.append(self.door_to_door(road_m, road_s, snap, dest_snap))
        return travel


class ValhallaMatrix(_RoutingServer):
    """Valhalla's `sources_to_targets`: `POST /sources_to_targets` with the origins as
    sources and the call as the one target, by car, verbose (so it says where it
    placed each point on its roads)."""

    engine = "Valhalla"
    default_max_origins = VALHALLA_MAX_ORIGINS

    def _request(self, batch: Sequence[Point], dest: Point) -> httpx.Request:
        query = {
            "sources": [_lat_lon(p) for p in batch],
            "targets": [_lat_lon(dest)],
            "costing": "auto",
            "units": "kilometers",
            "verbose": True,
        }
        return self._client.build_request("POST", "/sources_to_targets", json=query)

    def _read(
        self, status: int, body: Any, batch: Sequence[Point], dest: Point
    ) -> list[Travel | None]:
        if not isinstance(body, dict):
            raise WrongShape("not a JSON object")
        if status != 200 or "error_code" in body:
            error = body.get("error_code")
            if error in _VALHALLA_NO_ROUTE:
                return [None] * len(batch)
            if error == _VALHALLA_NO_ROAD:
                raise self.unavailable(
                    f"found no road near the call or a responder (error {error})"
                )
            if isinstance(error, int):
                raise self.unavailable(f"refused the query (error {error}, HTTP {status})")
            raise self.unavailable(f"answered HTTP {status}")
        rows = _rows(body, "sources_to_targets", len(batch))
        dest_snap = _snap_m(body.get("targets"), 0, dest)
        if dest_snap is None:
            raise self.off_road("is not near")
        if dest_snap > self.snap_limit_m:
            raise self.off_road(f"is {dest_snap:.0f} m from")
        travel: list[Travel | None] = []
        for i, origin in enumerate(batch):
            snap = _snap_m(body.get("sources"), i, origin)
            cell = rows[i][0]
            seconds, km = cell.get("time"), cell.get("distance")
            if seconds is None or km is None or snap is None or snap > self.snap_limit_m:
                travel.append(None)  # no route, or the responder is too far from a road
            else:
                road_m, road_s = _number(km) * 1000, _number(seconds)
                travel.append(self.door_to_door(road_m, road_s, snap, dest_snap))
        return travel


def _lat_lon(point: Point) -> dict[str, float]:
    return {"lat": round(point.lat, 6), "lon": round(point.lon, 6)}


def _rows(body: dict[str, Any], key: str, count: int) -> list[Any]:
    """`body[key]`, a list of `count` non-empty entries (rows, or waypoints)."""
    rows = body.get(key)
    if not isinstance(rows, list) or len(rows) != count:
        size = len(rows) if isinstance(rows, list) else "no"
        raise WrongShape(f"{key!r} has {size} entries for {count}")
    if not all(isinstance(row, list | dict) and row for row in rows):
        raise WrongShape(f"{key!r} has an empty or scalar entry")
    return rows


def _number(value: Any) -> float:
    """A distance or a time: finite and not negative."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongShape(f"{str(value)[:40]!r} is not a number")
    if not (math.isfinite(value) and value >= 0):
        raise WrongShape(f"{value!r} is not a distance or a time")
    return float(value)


def _snap_m(placed: Any, i: int, point: Point) -> float | None:
    """How far Valhalla moved `point` to put it on a road: None if it could not, 0 if
    it does not say (a version that does not list where it placed the points)."""
    if placed is None:
        return 0.0
    spot = placed[i]
    if isinstance(spot, list):  # older versions wrap each location in a list
        spot = spot[0] if spot else None
    if spot is None:
        return None
    return haversine_m(
        point, Point(lat=_number_signed(spot["lat"]), lon=_number_signed(spot["lon"]))
    )


def _number_signed(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WrongShape(f"{str(value)[:40]!r} is not a coordinate")
    return float(value)


def _osrm_refusal(code: Any, status: int) -> str:
    """What an OSRM answer without `"code": "Ok"` says, after "the routing server at …"."""
    if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{1,40}", code):
        return f"answered HTTP {status} without a table" if status != 200 else "sent no code"
    if code == "NoSegment":
        return "could not place the call or a responder on any road (NoSegment)"
    return f"refused the query ({code}, HTTP {status})"
