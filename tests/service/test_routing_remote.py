"""The routing-server client against a real HTTP server in its own process, answering
as OSRM's `table` service and Valhalla's `sources_to_targets` do (see routing_server)."""

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch.roads import BEYOND, RoadTimes, RoutingUnavailable
from dispatch.travel import Point, Travel, haversine_m
from service.routing.remote import SNAP_MPS, remote_from_url
from tests.service.routing_server import METRES_PER_DEGREE_LAT, SPEED_MPS

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ("osrm", "valhalla")
CALL = Point(lat=39.7392, lon=-104.9903)


def east_of_call(metres: float) -> Point:
    return Point(lat=CALL.lat, lon=round(CALL.lon + metres / 85_500.0, 6))


def key(point: Point) -> str:
    return f"{point.lat:.6f},{point.lon:.6f}"


def predicted(origin: Point, *, origin_off_m: float = 0.0) -> Travel:
    """The test server's answer, door to door: great circle at SPEED_MPS between the
    roads, plus the leg from the point to its road at SNAP_MPS."""
    on_road = Point(origin.lat - origin_off_m / METRES_PER_DEGREE_LAT, origin.lon)
    metres = haversine_m(on_road, CALL)
    return Travel(metres + origin_off_m, metres / SPEED_MPS + origin_off_m / SNAP_MPS)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`host:port` of a routing server process, stopped at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.service.routing_server"], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        yield f"127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def behave(server: str) -> Callable[..., None]:
    """Set how the server behaves (it starts each test answering well)."""

    def set_mode(**how: Any) -> None:
        httpx.post(f"http://{server}/_control", json=how).raise_for_status()

    set_mode()
    return set_mode


def seen(server: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.get(f"http://{server}/_seen").json()
    return answer


def client(url: str, *, timeout_s: float = 2.0, max_origins: int | None = None) -> RoadTimes:
    return remote_from_url(
        url, timeout_s=timeout_s, fastest_mps=40.0, snap_limit_m=100.0, max_origins=max_origins
    )


def assert_travel(got: Travel | None, expected: Travel) -> None:
    # OSRM answers tenths; Valhalla whole seconds and metres to the kilometre's third decimal.
    assert got is not None
    assert got.distance_m == pytest.approx(expected.distance_m, abs=1.0)
    assert got.eta_s == pytest.approx(expected.eta_s, abs=1.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_time_limit_is_accepted_and_the_server_still_answers_everyone_exactly(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    # The server works out its whole table anyway: nobody is answered "beyond", not
    # even the responder 12 km out, two minutes past the limit.
    origins = [east_of_call(m) for m in (800.0, 12_000.0)]
    roads = client(f"{engine}+http://{server}")
    limited = roads.to_one(origins, CALL, within_s=predicted(origins[0]).eta_s + 1)
    assert limited == roads.to_one(origins, CALL)
    assert BEYOND not in limited
    for got, origin in zip(limited, origins, strict=True):
        assert_travel(got, predicted(origin))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_says_nothing_of_where_a_trip_can_start_and_is_not_asked(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    # A table answers for the origins asked only: the search bounds everyone else by
    # the fastest road, as before the embedded graph could say more.
    roads = client(f"{engine}+http://{server}")
    assert roads.reach(CALL, 300.0) is None
    assert seen(server) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_road_times_from_each_responder_match_the_server(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    origins = [east_of_call(m) for m in (800.0, 2_500.0, 12_000.0)]
    roads = client(f"{engine}+http://{server}")

    travel = roads.to_one(origins, CALL)

    assert len(travel) == 3
    for got, origin in zip(travel, origins, strict=True):
        assert_travel(got, predicted(origin))
    assert roads.name == f"{'OSRM' if engine == 'osrm' else 'Valhalla'} at {server}"
    assert roads.fastest_mps == 40.0
    if engine == "osrm":  # coordinates to 6 decimals, lon first, the call last
        path = seen(server)[0]["path"]
        assert f"{CALL.lon:.6f},{CALL.lat:.6f}?sources=0;1;2&destinations=3" in path


@pytest.mark.parametrize("engine", ENGINES)
def test_a_batch_larger_than_the_server_takes_is_split_and_kept_in_order(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    behave(max_origins=10)
    origins = [east_of_call(200.0 * (i + 1)) for i in range(25)]

    travel = client(f"{engine}+http://{server}", max_origins=10).to_one(origins, CALL)

    assert sorted(r["origins"] for r in seen(server)) == [5, 10, 10]
    for got, origin in zip(travel, origins, strict=True):
        assert_travel(got, predicted(origin))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_batch_past_the_server_limit_is_refused_in_words(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    behave(max_origins=10)
    origins = [east_of_call(200.0 * (i + 1)) for i in range(11)]

    with pytest.raises(RoutingUnavailable, match=f"routing server at {server} refused the query"):
        client(f"{engine}+http://{server}", max_origins=20).to_one(origins, CALL)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_slow_server_is_abandoned_at_the_timeout(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    behave(mode="slow", sleep_s=5.0)
    roads = client(f"{engine}+http://{server}", timeout_s=0.2)

    started = time.monotonic()
    with pytest.raises(RoutingUnavailable) as refused:
        roads.to_one([east_of_call(500.0)], CALL)
    elapsed = time.monotonic() - started

    assert str(refused.value) == f"the routing server at {server} did not answer within 200 ms"
    assert elapsed < 2.0  # a bound on behaviour: the server would have kept it 5 s
    behave()  # and the next call, once the server is quick again, is answered
    assert_travel(roads.to_one([east_of_call(500.0)], CALL)[0], predicted(east_of_call(500.0)))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_trickling_its_answer_is_abandoned_at_the_timeout(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    # A byte every 50 ms: no single read waits past 300 ms, the whole answer would take 5 s.
    behave(mode="trickle", sleep_s=5.0)

    started = time.monotonic()
    with pytest.raises(RoutingUnavailable, match="did not answer within 300 ms"):
        client(f"{engine}+http://{server}", timeout_s=0.3).to_one([east_of_call(500.0)], CALL)

    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("error", "answered HTTP 500"),
        ("garbage", "sent an answer that is not JSON"),
        ("wrong_shape", "sent an answer of the wrong shape"),
    ],
)
def test_a_server_answering_badly_is_reported_in_words(
    engine: str, mode: str, said: str, server: str, behave: Callable[..., None]
) -> None:
    behave(mode=mode)

    with pytest.raises(RoutingUnavailable, match=f"^the routing server at {server} {said}"):
        client(f"{engine}+http://{server}").to_one([east_of_call(500.0)], CALL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_that_is_down_is_reported_in_words(engine: str) -> None:
    port = free_port()

    with pytest.raises(RoutingUnavailable) as refused:
        client(f"{engine}+http://127.0.0.1:{port}").to_one([east_of_call(500.0)], CALL)

    assert str(refused.value) == (
        f"the routing server at 127.0.0.1:{port} could not be reached (is it running?)"
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_responder_with_no_road_route_gets_none(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    island, mainland = east_of_call(900.0), east_of_call(1_500.0)
    behave(no_route=[key(island)])

    travel = client(f"{engine}+http://{server}").to_one([island, mainland], CALL)

    assert travel[0] is None
    assert_travel(travel[1], predicted(mainland))


@pytest.mark.parametrize("engine", ENGINES)
def test_no_route_from_anyone_is_none_for_all(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    origins = [east_of_call(900.0), east_of_call(1_500.0)]
    behave(no_route=[key(p) for p in origins])

    assert client(f"{engine}+http://{server}").to_one(origins, CALL) == [None, None]


@pytest.mark.parametrize("engine", ENGINES)
def test_responders_off_the_road_travel_door_to_door_or_not_at_all(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    in_a_car_park, in_a_field, on_road = (east_of_call(m) for m in (700.0, 1_100.0, 1_900.0))
    behave(off_road={key(in_a_car_park): 40.0, key(in_a_field): 300.0})

    travel = client(f"{engine}+http://{server}").to_one([in_a_car_park, in_a_field, on_road], CALL)

    assert_travel(travel[0], predicted(in_a_car_park, origin_off_m=40.0))
    assert travel[1] is None  # 300 m from a road, past the 100 m allowed
    assert_travel(travel[2], predicted(on_road))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_call_off_the_road_is_unavailable_and_says_how_far(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    behave(off_road={key(CALL): 300.0})
    roads = client(f"{engine}+http://{server}")

    with pytest.raises(RoutingUnavailable) as refused:
        roads.to_one([east_of_call(700.0)], CALL)

    assert str(refused.value) == (
        f"the call is 300 m from the nearest road {roads.name} knows "
        "(a call may be at most 100 m from one)"
    )


def test_no_responders_asks_nothing(server: str, behave: Callable[..., None]) -> None:
    assert client(f"osrm+http://{server}").to_one([], CALL) == []
    assert seen(server) == []


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (r"http://osrm.local:5000", r"must start with osrm\+http://host:port"),
        ("osrm://osrm.local:5000", "must start with"),
        ("graphhopper+http://gh.local:8989", "must start with"),
        ("osrm+ftp://osrm.local", "must start with"),
        ("osrm+http://", "names no host"),
        ("valhalla+http://v.local:port", "has a port that is not a number"),
        ("valhalla+http://v.local:99999", "has a port that is not a number"),
        ("osrm+http://osrm.local:5000?profile=car", "takes no query"),
    ],
)
def test_a_url_that_names_no_routing_server_is_refused(url: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        client(url)


@pytest.mark.parametrize(
    "how", [{"timeout_s": 0.0}, {"fastest_mps": -1.0}, {"snap_limit_m": -5.0}, {"max_origins": -2}]
)
def test_settings_that_cannot_work_are_refused(how: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"timeout_s": 0.2, "fastest_mps": 40.0, "snap_limit_m": 100.0}
    with pytest.raises(ValueError, match="a routing server needs"):
        remote_from_url("osrm+http://osrm.local:5000", **{**settings, **how})


@pytest.mark.parametrize("engine", ENGINES)
def test_credentials_reach_the_server_and_no_message(
    engine: str, server: str, behave: Callable[..., None]
) -> None:
    roads = client(f"{engine}+http://alice:s3cret@{server}")
    roads.to_one([east_of_call(500.0)], CALL)
    down = client(f"{engine}+http://alice:s3cret@127.0.0.1:{free_port()}")
    with pytest.raises(RoutingUnavailable) as refused:
        down.to_one([east_of_call(500.0)], CALL)
    with pytest.raises(ValueError, match=r"\*\*\*@") as bad_url:
        client(f"{engine}+http://alice:s3cret@{server}/?x=1")

    # Only this test sends credentials; an earlier test's slow request, answered after
    # the server was reset, may be listed too (and first, on a busy machine).
    assert any(request["auth"] for request in seen(server))
    for said in (roads.name, down.name, str(refused.value), str(bad_url.value)):
        assert "s3cret" not in said
        assert "alice" not in said
