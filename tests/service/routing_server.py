"""A routing server for the tests, in a process of its own: OSRM's `table` service
and Valhalla's `sources_to_targets`, answered from the great-circle distance at
`SPEED_MPS`, so a test can predict every figure.

`python -m tests.service.routing_server` prints its port on the first line of
stdout. `POST /_control` with a JSON object sets how it behaves from then on:

- `mode`: `good`, `slow` (sleeps `sleep_s` seconds, then answers well), `trickle`
  (sends the answer a byte every 50 ms, padded to last `sleep_s` or more), `error` (HTTP 500),
  `garbage` (a body that is not JSON), `wrong_shape` (JSON, not a table);
- `max_origins`: more origins than this in one request are refused, as both engines do;
- `off_road`: {"lat,lon": metres}: those points lie that far from a road (north of it);
- `no_route`: ["lat,lon", …]: no road route from those points.

Points are written "lat,lon" with 6 decimals. `GET /_seen` lists the table requests
answered: the engine, the origins in each, the raw path, and whether basic auth came.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dispatch.travel import Point, haversine_m

SPEED_MPS = 10.0
METRES_PER_DEGREE_LAT = 111_195.0  # on the sphere haversine_m uses

_DEFAULTS: dict[str, Any] = {
    "mode": "good",
    "sleep_s": 5.0,
    "max_origins": 100,
    "off_road": {},
    "no_route": [],
}
_state: dict[str, Any] = dict(_DEFAULTS)
_seen: list[dict[str, Any]] = []
_lock = threading.Lock()


def key(point: Point) -> str:
    return f"{point.lat:.6f},{point.lon:.6f}"


def on_road(point: Point, off_road: dict[str, float]) -> tuple[Point, float]:
    """Where the point meets its road, and how far that is."""
    metres = float(off_road.get(key(point), 0.0))
    return Point(point.lat - metres / METRES_PER_DEGREE_LAT, point.lon), metres


def road(origin: Point, dest: Point, state: dict[str, Any]) -> tuple[float, float] | None:
    """Metres and seconds between the two points' roads; None if there is no route."""
    if key(origin) in state["no_route"]:
        return None
    a, _ = on_road(origin, state["off_road"])
    b, _ = on_road(dest, state["off_road"])
    metres = haversine_m(a, b)
    return metres, metres / SPEED_MPS


def osrm_table(path: str, state: dict[str, Any]) -> tuple[int, dict[str, Any], int]:
    parts = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    pairs = parts.path.removeprefix("/table/v1/driving/").split(";")
    points = [Point(lat=float(p.split(",")[1]), lon=float(p.split(",")[0])) for p in pairs]
    sources = [points[int(i)] for i in query["sources"].split(";")]
    dest = points[int(query["destinations"])]
    if set(query.get("annotations", "").split(",")) != {"duration", "distance"}:
        return 400, {"code": "InvalidOptions", "message": "annotations"}, len(sources)
    if len(sources) > state["max_origins"]:
        return 400, {"code": "TooBig", "message": "Too many table coordinates"}, len(sources)
    found = [road(s, dest, state) for s in sources]

    def waypoint(p: Point) -> dict[str, Any]:
        snapped, metres = on_road(p, state["off_road"])
        return {"location": [snapped.lon, snapped.lat], "distance": metres, "name": "", "hint": ""}

    body = {
        "code": "Ok",
        "durations": [[None if f is None else round(f[1], 1)] for f in found],
        "distances": [[None if f is None else round(f[0], 1)] for f in found],
        "sources": [waypoint(s) for s in sources],
        "destinations": [waypoint(dest)],
    }
    return 200, body, len(sources)


def valhalla_matrix(
    query: dict[str, Any], state: dict[str, Any]
) -> tuple[int, dict[str, Any], int]:
    sources = [Point(lat=s["lat"], lon=s["lon"]) for s in query["sources"]]
    dest = Point(lat=query["targets"][0]["lat"], lon=query["targets"][0]["lon"])
    if len(sources) > state["max_origins"]:
        return 400, {"error_code": 150, "error": "Exceeded max locations"}, len(sources)
    found = [road(s, dest, state) for s in sources]
    if all(f is None for f in found):
        return 400, {"error_code": 442, "error": "No path could be found for input"}, len(sources)

    def cell(i: int, f: tuple[float, float] | None) -> dict[str, Any]:
        time_s = None if f is None else round(f[1])
        km = None if f is None else round(f[0] / 1000, 3)
        return {"from_index": i, "to_index": 0, "time": time_s, "distance": km}

    def placed(p: Point) -> dict[str, float]:
        snapped, _ = on_road(p, state["off_road"])
        return {"lat": round(snapped.lat, 6), "lon": round(snapped.lon, 6)}

    body = {
        "sources_to_targets": [[cell(i, f)] for i, f in enumerate(found)],
        "sources": [placed(s) for s in sources],
        "targets": [placed(dest)],
        "units": "kilometers",
        "algorithm": "costmatrix",
    }
    return 200, body, len(sources)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's output stays the test's

    def do_GET(self) -> None:
        if self.path == "/_seen":
            with _lock:
                self.answer(200, json.dumps(_seen).encode())
        elif self.path.startswith("/table/v1/driving/"):
            self.table("osrm", lambda state: osrm_table(self.path, state))
        else:
            self.answer(404, b'{"code": "InvalidUrl"}')

    def do_POST(self) -> None:
        sent = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/_control":
            with _lock:
                _state.clear()
                _state.update({**_DEFAULTS, **json.loads(sent)})
                _seen.clear()
            self.answer(200, b"{}")
        elif self.path == "/sources_to_targets":
            self.table("valhalla", lambda state: valhalla_matrix(json.loads(sent), state))
        else:
            self.answer(404, b'{"error_code": 106}')

    def table(self, engine: str, compute: Any) -> None:
        with _lock:
            state = json.loads(json.dumps(_state))
        mode = state["mode"]
        if mode == "slow":
            time.sleep(state["sleep_s"])
        status, body, origins = compute(state)
        with _lock:
            _seen.append(
                {
                    "engine": engine,
                    "origins": origins,
                    "path": self.path,
                    "auth": self.headers.get("Authorization", "").startswith("Basic "),
                }
            )
        if mode == "error":
            self.answer(500, b"Internal Server Error", content_type="text/plain")
        elif mode == "garbage":
            self.answer(200, b"<html>upstream gateway says hello", content_type="application/json")
        elif mode == "trickle":
            self.trickle(json.dumps(body).encode(), state["sleep_s"])
        elif mode == "wrong_shape":
            wrong = {"code": "Ok", "durations": [[1.0]]} if engine == "osrm" else {"id": 1}
            self.answer(200, json.dumps(wrong).encode())
        else:
            self.answer(status, json.dumps(body).encode())

    def trickle(self, body: bytes, seconds: float) -> None:
        """Headers at once, then the body a byte every 50 ms, for `seconds` in all."""
        padded = body + b" " * int(seconds / 0.05)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(padded)))
        self.end_headers()
        try:
            for i in range(len(padded)):
                self.wfile.write(padded[i : i + 1])
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass  # the client gave up, as it should

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
