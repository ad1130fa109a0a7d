"""The road ranking is exact: it equals a road scan of everyone eligible, on towns that
answer as the embedded graph does and as a routing server does, and answers beyond the
threshold never change the choice (property tests)."""

import random
from collections.abc import Hashable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.by_road import RoadChoice
from dispatch.plan import RoleNeed
from dispatch.ranking import (
    CallSite,
    Candidate,
    Preferences,
)
from dispatch.travel import GeodesicEstimator, Point
from models.vocabulary import ResponderKind
from tests.dispatch.road_town import RoadTown
from tests.dispatch.test_by_road import (
    CIT_SEAT,
    CLINICIAN_SEAT,
    FALLBACK,
    NO_BRIDGE,
    NO_BRIDGE_AS_SERVER,
    NO_RIVER,
    ON,
    SPRAWL,
    SPRAWL_NO_BRIDGE,
    TOWN,
    TOWN_AS_SERVER,
    Exactly,
    _clinician,
    _rank,
    _road_scan,
    _site,
)


def _on_a_street(rng: random.Random, town: RoadTown) -> Point:
    """Somewhere along a street: where a responder drives and a caller's door is."""
    if rng.random() < 0.5:
        return town.at(rng.randrange(town.rows), rng.uniform(0, town.cols - 1))
    return town.at(rng.uniform(0, town.rows - 1), rng.randrange(town.cols))


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("seed", range(40))
def test_without_a_river_in_the_way_one_query_decides(seed: int, k: int) -> None:
    rng = random.Random(seed)
    count = rng.choice([5, 30, 200])
    people = [_clinician(f"c{i}", _on_a_street(rng, NO_RIVER)) for i in range(count)]
    ranking = _rank(NO_RIVER, _site(_on_a_street(rng, NO_RIVER)), people, k=k)
    assert ranking.queries == 1
    assert len(ranking.choices) == k
    if count == 200:  # and not everyone is asked about
        assert ranking.candidates_routed < count


_SKILLS = ["de-escalation", "youth", "veterans"]
_NEEDS = [
    CLINICIAN_SEAT,
    RoleNeed(role="clinician", kind="clinician", preferred_skills=frozenset(_SKILLS[:2])),
    RoleNeed(role="clinician", kind="clinician", prefer_language=False),
    CIT_SEAT,
    RoleNeed(role="officer", kind="officer", preferred_skills=frozenset({"youth"})),
]


@st.composite
def _scenes(draw: st.DrawFn) -> tuple[RoadTown, CallSite, list[Candidate], frozenset[Hashable]]:
    town = draw(
        st.sampled_from(
            [
                TOWN,
                NO_BRIDGE,
                NO_RIVER,
                SPRAWL,
                SPRAWL_NO_BRIDGE,
                TOWN_AS_SERVER,
                NO_BRIDGE_AS_SERVER,
            ]
        )
    )
    call = town.at(draw(st.floats(0, 20)), draw(st.floats(0, 40)))
    # A few shared spots make exact ties; some fall off the streets (rows and
    # columns below 0 or past the edge are up to 600 m from any).
    spots = [town.at(draw(st.floats(-6, 26)), draw(st.floats(-6, 46))) for _ in range(4)]
    # Half speak the call's language, or one in ten: then the nearest speaker is often
    # far, and the search for speakers alone (`fetch_speaking`) must go as far.
    speakers = [frozenset({"en", "es"})] + [frozenset({"en"})] * draw(st.sampled_from([1, 9]))
    people = []
    for i in range(draw(st.integers(0, 60))):
        if draw(st.booleans()):
            where = draw(st.sampled_from(spots))
        else:
            where = town.at(draw(st.floats(-6, 26)), draw(st.floats(-6, 46)))
        kind = draw(st.sampled_from([ResponderKind.clinician, ResponderKind.officer]))
        until = draw(st.sampled_from([None, ON - timedelta(days=1), ON, ON + timedelta(days=9)]))
        people.append(
            Candidate(
                id=f"r{i:02d}",
                kind=kind,
                lat=where.lat,
                lon=where.lon,
                cit_certified_until=until if kind == ResponderKind.officer else None,
                languages=draw(st.sampled_from(speakers)),
                skills=frozenset(draw(st.lists(st.sampled_from(_SKILLS), max_size=2))),
            )
        )
    excluded: frozenset[Hashable] = frozenset(
        draw(st.lists(st.sampled_from([p.id for p in people] or ["x"])))
    )
    language = draw(st.sampled_from([None, "es"]))
    return town, _site(call, language), people, excluded


# The fallback the engine falls back on: slower than the town's roads (the default),
# or faster, so that the search's bound must come from the fallback's.
_FALLBACKS = [FALLBACK, GeodesicEstimator(circuity=1.0, speeds_mps={}, other_mps=40.0)]


@settings(max_examples=300, deadline=None)
@given(
    scene=_scenes(),
    need=st.sampled_from(_NEEDS),
    k=st.sampled_from([1, 3]),
    prefs=st.sampled_from(
        [Preferences(), Preferences(language_penalty_s=37.5, skill_penalty_s=0.1)]
    ),
    fallback=st.sampled_from(_FALLBACKS),
    speaking=st.booleans(),
)
def test_the_road_ranking_equals_a_road_scan_of_everyone(
    scene: tuple[RoadTown, CallSite, list[Candidate], frozenset[Hashable]],
    need: RoleNeed,
    k: int,
    prefs: Preferences,
    fallback: GeodesicEstimator,
    speaking: bool,
) -> None:
    town, site, people, excluded = scene
    before = (town.queries, town.origins_asked, town.beyond_answered)
    ranking = _rank(
        town,
        site,
        people,
        need=need,
        k=k,
        prefs=prefs,
        exclude=excluded,
        fallback=fallback,
        speaking=speaking,
    )
    asked = (town.queries - before[0], town.origins_asked - before[1])
    beyond = town.beyond_answered - before[2]

    assert all(isinstance(c, RoadChoice) for c in ranking.choices)
    got = [
        (str(c.candidate.id), c.score_s, c.eta_s, c.distance_m, c.by_road)  # type: ignore[attr-defined]
        for c in ranking.choices
    ]
    scan = _road_scan(
        town, site, need, people, k=k, prefs=prefs, exclude=excluded, fallback=fallback
    )
    assert got == scan
    assert asked == (ranking.queries, ranking.candidates_routed)
    if not town.knows_reach:  # a server's table: each query is a round trip
        assert ranking.queries <= 2 or beyond > 0  # more only when the threshold doubled
    if ranking.choices:  # the crow-flies nearest asked about is no farther than the chosen
        crow, chosen = ranking.crow_nearest, ranking.choices[0]
        assert isinstance(crow, RoadChoice) and isinstance(chosen, RoadChoice)
        assert crow.straight_m <= chosen.straight_m
        assert not chosen.at_least


@settings(max_examples=200, deadline=None)
@given(
    scene=_scenes(),
    need=st.sampled_from(_NEEDS),
    k=st.sampled_from([1, 2, 3]),
    fallback=st.sampled_from(_FALLBACKS),
)
def test_answers_beyond_the_threshold_never_change_the_choice(
    scene: tuple[RoadTown, CallSite, list[Candidate], frozenset[Hashable]],
    need: RoleNeed,
    k: int,
    fallback: GeodesicEstimator,
) -> None:
    town, site, people, excluded = scene
    prefs = Preferences(language_penalty_s=37.5, skill_penalty_s=0.1)
    before = town.beyond_answered
    limited = _rank(
        town, site, people, need=need, k=k, prefs=prefs, exclude=excluded, fallback=fallback
    )
    beyond = town.beyond_answered - before
    exact = _rank(
        Exactly(town),
        site,
        people,
        need=need,
        k=k,
        prefs=prefs,
        exclude=excluded,
        fallback=fallback,
    )
    assert limited.choices == exact.choices
    if not town.knows_reach:  # without "beyond", a server is asked twice at most
        assert exact.queries <= 2
    if beyond == 0:  # the same questions, the same answers
        assert limited == exact
