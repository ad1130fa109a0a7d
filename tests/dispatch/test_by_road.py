"""Ranking by road: the river a straight line does not see, exactness against a road
scan of everyone, and how few questions the road engine is asked, and how far."""

import random
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from h3.api import basic_int as h3

from dispatch.by_road import RoadChoice, RoadRanking, rank_by_road
from dispatch.cells import CellRange, position_cell, ranges_of
from dispatch.index import ResponderIndex
from dispatch.plan import RoleNeed
from dispatch.ranking import (
    DEFAULT_PREFERENCES,
    CallSite,
    Candidate,
    Choice,
    Fetch,
    Preferences,
    is_eligible,
    penalty_s,
    rank_responders,
)
from dispatch.road_reason import road_choice_reason
from dispatch.roads import Reach, RoutingUnavailable
from dispatch.travel import GeodesicEstimator, Point, Travel
from models.vocabulary import ResponderKind
from tests.dispatch.road_town import RoadTown

ON = date(2026, 11, 22)
FALLBACK = GeodesicEstimator()
# 21 streets east-west, 41 north-south, 100 m apart; the river runs between
# streets 10 and 11, bridged only on column 35.
TOWN = RoadTown()
NO_BRIDGE = RoadTown(bridge_col=None)
NO_RIVER = RoadTown(river_after_row=None)
# The same towns saying nothing of where a trip can start, as a routing server: the
# search is bounded by the fastest road alone.
TOWN_AS_SERVER = RoadTown(reach=False)
NO_BRIDGE_AS_SERVER = RoadTown(bridge_col=None, reach=False)
# Blocks of 400 m: trips long enough that the search asks the town where they can
# start from (in the town of 100 m blocks the rings at the fastest road do, mostly).
SPRAWL = RoadTown(block_m=400, snap_limit_m=400)
SPRAWL_NO_BRIDGE = RoadTown(block_m=400, snap_limit_m=400, bridge_col=None)
CLINICIAN_SEAT = RoleNeed(role="clinician", kind=ResponderKind.clinician)
CIT_SEAT = RoleNeed(role="officer", kind=ResponderKind.officer, cit_required=True)
NAMES: dict[Hashable, str] = {"ruiz": "Ruiz", "chen": "Chen"}


@dataclass(frozen=True)
class Exactly:
    """The same town answering every origin exactly, whatever `within_s` says: as a
    routing server does (it works out its whole table anyway)."""

    town: RoadTown

    @property
    def name(self) -> str:
        return self.town.name

    @property
    def fastest_mps(self) -> float:
        return self.town.fastest_mps

    def to_one(
        self, origins: Sequence[Point], dest: Point, *, within_s: float | None = None
    ) -> list[Travel | None]:
        return self.town.to_one(origins, dest)

    def reach(self, dest: Point, within_s: float) -> Reach | None:
        return self.town.reach(dest, within_s)


def _clinician(name: str, where: Point) -> Candidate:
    return Candidate(id=name, kind=ResponderKind.clinician, lat=where.lat, lon=where.lon)


def _site(where: Point, language: str | None = None) -> CallSite:
    return CallSite(lat=where.lat, lon=where.lon, on=ON, language=language)


def _rank(
    town: RoadTown | Exactly,
    site: CallSite,
    people: list[Candidate],
    *,
    need: RoleNeed = CLINICIAN_SEAT,
    k: int = 1,
    prefs: Preferences = DEFAULT_PREFERENCES,
    exclude: frozenset[Hashable] = frozenset(),
    fallback: GeodesicEstimator = FALLBACK,
    speaking: bool = False,
) -> RoadRanking:
    index = ResponderIndex(people)
    return rank_by_road(
        site,
        need,
        k=k,
        fetch=index.fetch,
        roads=town,
        fallback=fallback,
        prefs=prefs,
        exclude=exclude,
        fetch_speaking=index.fetch_speaking if speaking else None,
    )


def _ids(choices: list[Choice]) -> list[str]:
    return [str(c.candidate.id) for c in choices]


def test_across_the_river_the_road_picks_the_clinician_on_the_calls_side() -> None:
    call = TOWN.at(10, 5)  # on the south bank street
    chen = _clinician("chen", TOWN.at(13, 5))  # 300 m north, across the river
    ruiz = _clinician("ruiz", TOWN.at(10, 20))  # 1.5 km east along the south bank
    site = _site(call)

    by_road = _rank(TOWN, site, [chen, ruiz], k=2)
    in_a_line = rank_responders(
        site, CLINICIAN_SEAT, k=1, fetch=ResponderIndex([chen, ruiz]).fetch, estimator=FALLBACK
    )

    assert _ids(by_road.choices) == ["ruiz", "chen"]
    assert _ids(in_a_line) == ["chen"]
    assert by_road.crow_nearest is not None and by_road.crow_nearest.candidate.id == "chen"
    # The figures are the road's: for Chen, the avenues 3 km east to the bridge and
    # back, 6.7 km at 15 m/s.
    road = TOWN.to_one([TOWN.at(10, 20), TOWN.at(13, 5)], call)
    assert [(c.distance_m, c.eta_s) for c in by_road.choices] == [
        (t.distance_m, t.eta_s) for t in road if t is not None
    ]
    assert by_road.choices[1].distance_m == pytest.approx(6_700, rel=5e-3)
    assert road_choice_reason(by_road.choices[0], by_road.crow_nearest, NAMES.__getitem__) == (
        "chose Ruiz (2 min by road) over Chen (300 m away, 8 min by road)"
    )
    # Choosing one: the straight line guessed Chen's trip short, so the engine was
    # asked about Chen alone, within that guess: beyond it, never worked out. Then,
    # with the threshold doubled, about Ruiz and Chen again: Ruiz in time, Chen still
    # beyond. Two queries, and Chen's long way round never searched.
    beyond = TOWN.beyond_answered
    first = _rank(TOWN, site, [chen, ruiz], k=1)
    assert _ids(first.choices) == ["ruiz"]
    assert (first.queries, first.candidates_routed) == (2, 3)
    assert TOWN.beyond_answered - beyond == 2
    crow = first.crow_nearest
    assert isinstance(crow, RoadChoice) and crow.at_least and crow.candidate.id == "chen"
    assert road_choice_reason(first.choices[0], crow, NAMES.__getitem__) == (
        "chose Ruiz (2 min by road) over Chen (300 m away, more than 2 min by road)"
    )


def _road_choice(
    eta_s: float, *, straight_m: float = 0.0, by_road: bool = True, at_least: bool = False
) -> RoadChoice:
    who = _clinician("chen" if straight_m else "ruiz", TOWN.at(0, 0))
    return RoadChoice(
        who, 0.0, eta_s, eta_s, straight_m=straight_m, by_road=by_road, at_least=at_least
    )


@pytest.mark.parametrize(
    ("chosen", "crow", "said"),
    [
        pytest.param(
            _road_choice(240.0),
            _road_choice(605, straight_m=1_149.0),
            "chose Ruiz (4 min by road) over Chen (1.1 km away, 11 min by road)",
            id="whole-minutes-up-km-one-decimal",
        ),
        pytest.param(
            _road_choice(0.0),
            _road_choice(61, straight_m=999.6),
            "chose Ruiz (1 min by road) over Chen (1.0 km away, 2 min by road)",
            id="at-least-a-minute-and-1000-m-is-a-km",
        ),
        pytest.param(
            _road_choice(90.0),
            _road_choice(400, straight_m=240.4, by_road=False),
            "chose Ruiz (2 min by road) over Chen (240 m away, "
            "7 min in a straight line, no road route)",
            id="metres-under-a-km-and-no-road-route-said",
        ),
        pytest.param(
            _road_choice(90.0),
            _road_choice(185.5, straight_m=300.0, at_least=True),
            "chose Ruiz (2 min by road) over Chen (300 m away, more than 3 min by road)",
            id="beyond-the-threshold-whole-minutes-down",
        ),
        pytest.param(
            _road_choice(20.0),
            _road_choice(45.0, straight_m=30.0, at_least=True),
            "chose Ruiz (1 min by road) over Chen (30 m away, more than a moment by road)",
            id="beyond-a-threshold-under-a-minute",
        ),
        pytest.param(
            _road_choice(200.0),
            _road_choice(185.5, straight_m=300.0, at_least=True),
            None,
            id="beyond-but-perhaps-not-longer-than-the-chosen",
        ),
        pytest.param(_road_choice(90.0), _road_choice(90.0), None, id="chosen-is-crow-nearest"),
        pytest.param(_road_choice(90.0), None, None, id="nobody-compared"),
        pytest.param(
            _road_choice(700.0),
            _road_choice(300, straight_m=800.0),
            None,
            id="longer-by-road-so-a-language-or-skill-decided",
        ),
    ],
)
def test_the_plan_says_when_the_road_changed_the_choice(
    chosen: Choice, crow: Choice | None, said: str | None
) -> None:
    assert road_choice_reason(chosen, crow, NAMES.__getitem__) == said


@pytest.mark.parametrize(
    ("town", "where", "by_road"),
    [
        pytest.param(TOWN, TOWN.at(-5, 5), False, id="500-m-off-every-street"),
        pytest.param(NO_BRIDGE, TOWN.at(12, 5), False, id="across-a-river-with-no-bridge"),
        pytest.param(TOWN, TOWN.at(12, 5), True, id="across-the-bridged-river"),
    ],
)
def test_someone_the_roads_cannot_route_is_ranked_by_the_straight_line_and_says_so(
    town: RoadTown, where: Point, by_road: bool
) -> None:
    call = TOWN.at(10, 5)
    far = _clinician("far", TOWN.at(10, 39))  # 3.4 km east on the call's side
    ranking = _rank(town, _site(call), [_clinician("lost", where), far], k=2)

    lost = next(c for c in ranking.choices if c.candidate.id == "lost")
    assert isinstance(lost, RoadChoice) and lost.by_road is by_road
    if not by_road:
        expected = FALLBACK.travel(ResponderKind.clinician, where, call)
        assert (lost.distance_m, lost.eta_s) == (expected.distance_m, expected.eta_s)


def test_a_call_off_the_road_network_raises_routing_unavailable_for_the_caller() -> None:
    people = [_clinician("near", TOWN.at(0, 0))]
    with pytest.raises(RoutingUnavailable, match="from the nearest street"):
        _rank(TOWN, _site(TOWN.at(-20, 0)), people)


def test_excluded_responders_are_never_asked_about_nor_chosen() -> None:
    call = TOWN.at(5, 5)
    people = [_clinician("declined", TOWN.at(5, 6)), _clinician("next", TOWN.at(5, 12))]
    ranking = _rank(TOWN, _site(call), people, k=3, exclude=frozenset({"declined"}))
    assert _ids(ranking.choices) == ["next"]
    assert ranking.crow_nearest is not None and ranking.crow_nearest.candidate.id == "next"
    assert ranking.candidates_routed == 1


@pytest.mark.parametrize(
    ("need", "people"),
    [
        pytest.param(CLINICIAN_SEAT, [], id="nobody-at-all"),
        pytest.param(
            CIT_SEAT,
            [
                Candidate(
                    id="lapsed",
                    kind="officer",
                    lat=40.0,
                    lon=-75.3,
                    cit_certified_until=ON - timedelta(days=1),
                ),
                _clinician("wrong-kind", TOWN.at(1, 1)),
            ],
            id="no-certified-officer",
        ),
    ],
)
def test_nobody_eligible_means_an_empty_ranking_and_no_query(
    need: RoleNeed, people: list[Candidate]
) -> None:
    before = TOWN.queries
    ranking = _rank(TOWN, _site(TOWN.at(2, 2)), people, need=need, k=3)
    assert ranking == RoadRanking(choices=[], crow_nearest=None, queries=0, candidates_routed=0)
    assert TOWN.queries == before


def test_k_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1, not 0"):
        _rank(TOWN, _site(TOWN.at(2, 2)), [], k=0)


def test_a_call_in_spanish_gathers_the_streets_to_the_nearest_speaker_not_a_disk() -> None:
    # The nearest clinician speaks English only: 300 s on his trip puts the threshold
    # guessed in a straight line some 5 km out at the fastest road, and everyone in
    # that disk would be gathered. Told where trips start, the search widens from the
    # road's own guess, finds Ortiz, who speaks Spanish, 1.6 km along the avenue, and
    # gathers only the streets that near.
    rng = random.Random(5)
    spread = [SPRAWL.at(rng.uniform(0, 20), rng.uniform(0, 40)) for _ in range(400)]
    people = [_clinician(f"r{i}", at) for i, at in enumerate(spread)]
    people += [
        _clinician("near", SPRAWL.at(10, 5.2)),
        Candidate(
            id="ortiz",
            kind=ResponderKind.clinician,
            lat=SPRAWL.at(10, 9).lat,
            lon=SPRAWL.at(10, 9).lon,
            languages=frozenset({"en", "es"}),
        ),
    ]
    site = _site(SPRAWL.at(10, 5), language="es")
    gathered: dict[str, int] = {}
    for town, name in ((SPRAWL, "reach"), (RoadTown(block_m=400, reach=False), "fastest road")):
        fetch = ResponderIndex(people).fetch

        def counted(
            ranges: Sequence[CellRange], name: str = name, fetch: Fetch = fetch
        ) -> Iterator[Candidate]:
            for cand in fetch(ranges):
                gathered[name] = gathered.get(name, 0) + 1
                yield cand

        ranking = rank_by_road(
            site, CLINICIAN_SEAT, k=1, fetch=counted, roads=town, fallback=FALLBACK
        )
        assert _ids(ranking.choices) == ["ortiz"] == _ids_of_scan(town, site, people)
    assert gathered["reach"] * 4 < gathered["fastest road"]


def _road_scan(
    town: RoadTown,
    site: CallSite,
    need: RoleNeed,
    people: list[Candidate],
    *,
    k: int,
    prefs: Preferences,
    exclude: frozenset[Hashable],
    fallback: GeodesicEstimator,
) -> list[tuple[str, float, float, float, bool]]:
    """Every eligible responder asked about by road, as the search must rank them."""
    eligible = [p for p in people if p.id not in exclude and is_eligible(p, need, site.on)]
    call = Point(site.lat, site.lon)
    travels = town.to_one([Point(p.lat, p.lon) for p in eligible], call)
    scored = []
    for person, travel in zip(eligible, travels, strict=True):
        by_road = travel is not None
        if travel is None:
            travel = fallback.travel(need.kind, Point(person.lat, person.lon), call)
        score = travel.eta_s + penalty_s(person, need, site, prefs)
        scored.append((score, str(person.id), travel.eta_s, travel.distance_m, by_road))
    return [(pid, s, eta, m, road) for s, pid, eta, m, road in sorted(scored)[:k]]


def _ids_of_scan(town: RoadTown, site: CallSite, people: list[Candidate]) -> list[str]:
    scan = _road_scan(
        town,
        site,
        CLINICIAN_SEAT,
        people,
        k=1,
        prefs=DEFAULT_PREFERENCES,
        exclude=frozenset(),
        fallback=FALLBACK,
    )
    return [pid for pid, *_ in scan]


def test_the_cells_of_a_reach_are_gathered_in_few_ranges_that_hold_just_them() -> None:
    rng = random.Random(9)
    counted = {"cells": 0, "ranges": 0}
    for _ in range(40):
        res = rng.choice([6, 7, 8, 9])
        centre = h3.latlng_to_cell(rng.uniform(-60, 70), rng.uniform(-180, 180), res)
        cells = [c for c in h3.grid_disk(centre, rng.randint(1, 8)) if rng.random() < 0.9]
        ranges = ranges_of(cells)
        counted["cells"] += len(cells)
        counted["ranges"] += len(ranges)
        inside = set(cells)
        lat, lon = h3.cell_to_latlng(centre)
        for _ in range(300):
            spot = position_cell(lat + rng.gauss(0, 0.02), lon + rng.gauss(0, 0.02))
            held = any(r.lo <= spot <= r.hi for r in ranges)
            assert held == (h3.cell_to_parent(spot, res) in inside)
    assert counted["ranges"] * 2 < counted["cells"]
