"""The embedded road graph on a real OSM file of a small town (tests/service/osm_town.py):
built, saved, loaded, and asked many-to-one, as the service will."""

import math
import random
from pathlib import Path

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from h3.api import basic_int as h3

from dispatch.roads import BEYOND, Reach, RoadTimes, RoutingUnavailable
from dispatch.travel import Point, geodesic_m
from service.routing.build import build_graph, parse_maxspeed_kmh, way_direction
from service.routing.graph import GraphArrays, GraphFileError, RoadGraph
from service.routing.sphere import lengths_m
from tests.service.osm_town import (
    BRIDGE_X,
    NORTH_BANK_Y,
    RESIDENTIAL_KMH,
    SOUTH_BANK_MPH,
    SOUTH_BANK_Y,
    Town,
    point,
    write_town,
)

STREET_MPS = RESIDENTIAL_KMH / 3.6
BANK_MPS = SOUTH_BANK_MPH * 1.609344 / 3.6


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Town:
    return write_town(tmp_path_factory.mktemp("town"))


@pytest.fixture(scope="module")
def graph(town: Town) -> RoadGraph:
    file = town.path.with_name("town.roads")
    build_graph(town.path).graph.save(file)
    return RoadGraph.load(file)


def test_it_is_a_road_times_engine_named_by_its_file(graph: RoadGraph) -> None:
    engine: RoadTimes = graph
    assert engine.name == "road graph town.roads"
    assert engine.fastest_mps == pytest.approx(BANK_MPS)


def test_across_the_river_goes_round_by_the_bridge(graph: RoadGraph, town: Town) -> None:
    (travel,) = graph.to_one([town.across_river], town.call)
    assert travel is not None
    # North 200 m to the north bank, east 1,800 m to the bridge, 100 m across, then
    # 1,800 m back west along the south bank street, signed 25 mph; the footbridge
    # 300 m straight ahead is not for cars.
    north_side = 200 + (BRIDGE_X - 1_000) + (NORTH_BANK_Y - SOUTH_BANK_Y)
    assert travel.distance_m == pytest.approx(north_side + 1_800, rel=1e-3)
    assert travel.eta_s == pytest.approx(north_side / STREET_MPS + 1_800 / BANK_MPS, rel=1e-3)


def test_the_farther_clinician_on_the_call_side_arrives_first(graph: RoadGraph, town: Town) -> None:
    across, same_side = graph.to_one([town.across_river, town.same_side], town.call)
    assert across is not None and same_side is not None
    # As the crow flies, the clinician across the river is five times nearer.
    assert geodesic_m(town.across_river, town.call) == pytest.approx(300, abs=1)
    assert geodesic_m(town.same_side, town.call) == pytest.approx(1_500, abs=2)
    # By road: north 1,200 m on an avenue, then 900 m west on the 25 mph bank street.
    assert same_side.distance_m == pytest.approx(2_100, rel=1e-3)
    assert same_side.eta_s == pytest.approx(1_200 / STREET_MPS + 900 / BANK_MPS, rel=1e-3)
    assert same_side.eta_s < across.eta_s / 1.5


def test_a_one_way_street_is_driven_one_way(graph: RoadGraph, town: Town) -> None:
    (with_it,) = graph.to_one([town.oneway_west], town.oneway_east)
    (against_it,) = graph.to_one([town.oneway_east], town.oneway_west)
    assert with_it is not None and against_it is not None
    assert with_it.distance_m == pytest.approx(300, rel=1e-3)
    # Against it: round the block, 100 m up, 300 m along the next street, 100 m down.
    assert against_it.distance_m == pytest.approx(500, rel=1e-3)
    assert against_it.eta_s == pytest.approx(500 / STREET_MPS, rel=1e-3)


def test_origins_with_no_road_route_are_none_in_their_place(graph: RoadGraph, town: Town) -> None:
    answers = graph.to_one([town.island, town.same_side, town.off_road], town.call)
    assert answers[0] is None  # on roads that connect to nothing
    assert answers[1] is not None
    assert answers[2] is None  # 2 km from any road
    assert graph.to_one([town.same_side], town.island) == [None]
    assert graph.to_one([], town.call) == []


def test_a_call_off_the_network_is_refused_with_how_far(graph: RoadGraph, town: Town) -> None:
    with pytest.raises(RoutingUnavailable, match=r"the call is 2,000 m from the nearest road"):
        graph.to_one([town.same_side], town.off_road)


def test_the_snap_limit_is_the_callers(town: Town) -> None:
    lenient = RoadGraph(build_graph(town.path).graph, name="town", snap_limit_m=2_500)
    (from_afar,) = lenient.to_one([town.off_road], town.call)
    assert from_afar is not None and from_afar.distance_m > 2_000


def test_the_legs_off_the_road_count_at_a_slow_speed(graph: RoadGraph, town: Town) -> None:
    on_street, off_street = graph.to_one([point(1_000, 300), point(1_000, 340)], town.call)
    assert on_street is not None and off_street is not None
    assert off_street.distance_m - on_street.distance_m == pytest.approx(40, abs=0.1)
    assert off_street.eta_s - on_street.eta_s == pytest.approx(40 / 5.0, abs=0.02)


def test_no_answer_beats_the_lower_bound_the_search_rests_on(graph: RoadGraph, town: Town) -> None:
    rng = random.Random(7)
    origins = [point(rng.uniform(0, 3_000), rng.uniform(0, 2_500)) for _ in range(300)]
    for dest in (town.call, town.bridge, point(2_950, 2_450)):
        for origin, travel in zip(origins, graph.to_one(origins, dest), strict=True):
            assert travel is not None
            straight = geodesic_m(origin, dest)
            assert travel.distance_m >= straight
            assert travel.eta_s >= straight / graph.fastest_mps


def test_asked_within_a_time_the_clinician_across_the_river_is_beyond_it(
    graph: RoadGraph, town: Town
) -> None:
    across, same_side = graph.to_one([town.across_river, town.same_side], town.call)
    assert across is not None and same_side is not None
    origins = [town.across_river, town.same_side, town.island]
    # The unlimited search is kept, and answers everyone exactly: start again.
    assert graph.to_one(origins, town.call, within_s=0.0) == [across, same_side, None]
    graph.forget()
    limited = graph.to_one(origins, town.call, within_s=same_side.eta_s)
    # The same figures for whoever arrives in time; no route is still no route.
    assert limited == [BEYOND, same_side, None]
    assert graph.to_one(origins, town.call, within_s=across.eta_s) == [across, same_side, None]
    graph.forget()
    assert graph.to_one(origins, town.call, within_s=0.0) == [BEYOND, BEYOND, None]
    with pytest.raises(ValueError, match="not nan"):
        graph.to_one(origins, town.call, within_s=float("nan"))


def test_only_trips_longer_than_the_limit_are_answered_beyond(graph: RoadGraph, town: Town) -> None:
    rng = random.Random(11)
    origins = [point(rng.uniform(0, 3_000), rng.uniform(0, 2_500)) for _ in range(200)]
    beyond = 0
    for dest in (town.call, town.bridge, point(2_950, 2_450)):
        exact = graph.to_one(origins, dest)
        for within_s in (30.0, 120.0, 300.0, 1_000.0):
            graph.forget()  # else the unlimited search, kept, answers everyone
            limited = graph.to_one(origins, dest, within_s=within_s)
            for got, full in zip(limited, exact, strict=True):
                assert full is not None
                if got == BEYOND:
                    beyond += 1
                    assert full.eta_s > within_s
                else:
                    assert got == full
    assert beyond > 200  # and the limit did spare the search somewhere


def _cell_of(graph: RoadGraph, where: Point, reach: Reach) -> int | None:
    """The cell of `reach` that `where` lies in, or None (the reach's cells share one
    resolution)."""
    if not reach.cells:
        return None
    res = h3.get_resolution(reach.cells[0])
    cell = h3.latlng_to_cell(where.lat, where.lon, res)
    return cell if cell in reach.cells else None


@pytest.mark.parametrize("snap_limit_m", [1_000.0, 60.0])
@pytest.mark.parametrize("within_s", [20.0, 90.0, 240.0, 600.0])
def test_every_trip_within_a_time_starts_in_the_reach_and_takes_no_less_than_it_says(
    graph: RoadGraph, town: Town, within_s: float, snap_limit_m: float
) -> None:
    # With a short snap limit, the middles of the blocks have no road route at all.
    graph = RoadGraph(graph.arrays, name="town", snap_limit_m=snap_limit_m)
    rng = random.Random(int(within_s))
    # Anywhere around the town: on its streets, between them, off the network, on
    # the island, across the river.
    spread = [point(rng.uniform(-1_500, 5_000), rng.uniform(-1_500, 3_500)) for _ in range(800)]
    for dest in (town.call, town.bridge, point(2_900, 2_400)):
        near = [
            Point(dest.lat + rng.gauss(0, 0.001), dest.lon + rng.gauss(0, 0.001))
            for _ in range(200)
        ]
        origins = spread + near
        graph.forget()
        reach = graph.reach(dest, within_s)
        assert reach.within_s == within_s
        assert list(reach.least_s) == sorted(reach.least_s)  # soonest first
        least = dict(zip(reach.cells, reach.least_s, strict=True))
        inside = 0
        for origin, travel in zip(origins, graph.to_one(origins, dest), strict=True):
            cell = _cell_of(graph, origin, reach)
            if travel is not None and travel.eta_s <= within_s:
                assert cell is not None, f"{origin} arrives in {travel.eta_s:.0f} s, outside"
                inside += 1
            if cell is not None and least[cell] > 0:  # every point there has a route
                assert travel is not None and travel.eta_s >= least[cell]
            if geodesic_m(origin, dest) < reach.all_routed_m:
                assert travel is not None
        assert inside > 0


def test_the_reach_grows_with_the_time_and_a_shorter_one_is_served_from_a_longer(
    graph: RoadGraph, town: Town
) -> None:
    graph.forget()
    far = graph.reach(town.call, 600.0)
    near = graph.reach(town.call, 120.0)  # from the same search: its cells, as soon
    graph.forget()
    alone = graph.reach(town.call, 120.0)
    assert set(alone.cells) <= set(near.cells) <= set(far.cells)
    assert len(alone.cells) < len(far.cells)
    assert all(least <= 120.0 for least in near.least_s)
    # The far corner, across the river: not within two minutes, within ten.
    corner = point(2_950, 2_450)
    assert _cell_of(graph, corner, alone) is None
    assert _cell_of(graph, corner, far) is not None
    # Nothing on the island reaches the call: no claim of a route there, and every
    # point nearer than it has one.
    island = _cell_of(graph, town.island, far)
    assert island is None or far.least_s[far.cells.index(island)] == 0
    assert 0 < far.all_routed_m < geodesic_m(town.call, town.island)


def test_no_reach_for_a_call_off_the_network_or_a_time_that_is_not_one(
    graph: RoadGraph, town: Town
) -> None:
    with pytest.raises(RoutingUnavailable, match=r"the call is 2,000 m from the nearest road"):
        graph.reach(town.off_road, 60.0)
    for within_s in (math.nan, math.inf):
        with pytest.raises(ValueError, match="finite number of seconds"):
            graph.reach(town.call, within_s)
    graph.forget()
    assert graph.reach(town.call, 0.0).cells == ()  # not even the leg to the road


def test_lengths_are_never_shorter_than_the_geodesic() -> None:
    rng = np.random.default_rng(3)
    lat1 = rng.uniform(-85, 85, 20_000)
    lon1 = rng.uniform(-180, 180, 20_000)
    metres = 10 ** rng.uniform(0, 5.5, 20_000)  # 1 m to 300 km
    azimuth = rng.uniform(0, 360, 20_000)
    ends = [
        Geodesic.WGS84.Direct(a, o, z, s)
        for a, o, z, s in zip(lat1, lon1, azimuth, metres, strict=True)
    ]
    lat2 = np.array([e["lat2"] for e in ends])
    lon2 = np.array([e["lon2"] for e in ends])
    ours = lengths_m(lat1, lon1, lat2, lon2)
    assert (ours >= metres).all()
    assert (ours <= metres * 1.016 + 1e-9).all()
    flat = (metres < 20_000) & (np.abs(lat1) <= 69) & (np.abs(lat2) <= 69)
    assert (ours[flat] <= metres[flat] * (1 + 3e-5)).all()


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("80kmh", 80.0),
        ("30 mph", 30 * 1.609344),
        ("25mph", 25 * 1.609344),
        ("40;60", 40.0),
        ("RU:urban", None),
        ("DE:rural", None),
        ("none", None),
        ("signals", None),
        ("walk", None),
        ("2", None),  # not a plausible car speed
        ("900", None),
        ("", None),
        (None, None),
    ],
)
def test_maxspeed_is_read_in_kmh_or_mph(value: str | None, kmh: float | None) -> None:
    assert parse_maxspeed_kmh(value) == (pytest.approx(kmh) if kmh is not None else None)


@pytest.mark.parametrize(
    ("tags", "direction"),
    [
        ({"highway": "residential"}, 0),
        ({"highway": "residential", "oneway": "yes"}, 1),
        ({"highway": "residential", "oneway": "-1"}, -1),
        ({"highway": "motorway"}, 1),
        ({"highway": "motorway", "oneway": "no"}, 0),
        ({"highway": "primary", "junction": "roundabout"}, 1),
    ],
)
def test_one_ways_are_told_by_tags_and_implied(tags: dict[str, str], direction: int) -> None:
    assert way_direction(tags) == direction


def test_the_file_is_exactly_the_path_named(town: Town, tmp_path: Path) -> None:
    graph = build_graph(town.path).graph
    size = graph.save(tmp_path / "county.roads")
    assert [p.name for p in tmp_path.iterdir()] == ["county.roads"]
    assert (tmp_path / "county.roads").stat().st_size == size
    again = GraphArrays.load(tmp_path / "county.roads")
    assert (again.node_count, again.edge_count) == (842, 3_140)


def test_a_file_that_is_not_a_graph_is_refused_by_name(tmp_path: Path) -> None:
    text = tmp_path / "notes.roads"
    text.write_text("hello")
    with pytest.raises(GraphFileError, match=r"notes.roads: not a road graph made by"):
        RoadGraph.load(text)
    other = tmp_path / "other.roads"
    with other.open("wb") as f:
        np.savez(f, lat=np.zeros(2))
    with pytest.raises(GraphFileError, match=r"other.roads: not a road graph this version reads"):
        RoadGraph.load(other)
