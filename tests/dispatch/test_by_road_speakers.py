"""A call in a rare language, searched for its speakers apart (`fetch_speaking`): the
same choice as a road scan of everyone, and far fewer gathered when nobody near
speaks it."""

import random
from collections.abc import Iterator, Sequence

import pytest

from dispatch.by_road import FetchSpeaking, rank_by_road
from dispatch.cells import CellRange, rings_around
from dispatch.index import ResponderIndex
from dispatch.ranking import DEFAULT_PREFERENCES, Candidate, Fetch
from dispatch.travel import Point
from models.vocabulary import ResponderKind
from tests.dispatch.road_town import RoadTown
from tests.dispatch.test_by_road import (
    CLINICIAN_SEAT,
    FALLBACK,
    SPRAWL,
    _clinician,
    _ids,
    _road_scan,
    _site,
)


def _speaker(name: str, where: Point, language: str = "vi") -> Candidate:
    return Candidate(
        id=name,
        kind=ResponderKind.clinician,
        lat=where.lat,
        lon=where.lon,
        languages=frozenset({"en", language}),
    )


# 400 clinicians who speak English only, all over the sprawling town (8 km by 16 km of
# 400 m blocks, a river between rows 10 and 11 bridged on column 35 alone).
_RNG = random.Random(20)
_ENGLISH = [
    _clinician(f"r{i:03d}", SPRAWL.at(_RNG.uniform(0, 20), _RNG.uniform(0, 40))) for i in range(400)
]
SPRAWL_AS_SERVER = RoadTown(block_m=400, snap_limit_m=400, reach=False)
_CALL = SPRAWL.at(8, 5)  # south of the river, far west of its bridge
# One more English speaker at the caller's door: everyone is then searched for only as
# far as his trip, and a speaker farther is found by the speakers' search alone.
_AT_THE_DOOR = [*_ENGLISH, _clinician("door", _CALL)]


@pytest.mark.parametrize(
    ("row", "col"),
    # Along the south bank, ever farther (~0.4 to 12 km by road), and across the river
    # from the call: 1.6 km in a straight line, 24 km by road round the bridge.
    [(8, 6), (8, 9), (8, 13), (8, 18), (8, 24), (8, 35), (3, 20), (12, 5), (13, 7)],
)
@pytest.mark.parametrize("door", [False, True])
def test_a_call_in_vietnamese_chooses_as_a_road_scan_with_its_speakers_searched_apart(
    row: int, col: int, door: bool
) -> None:
    people = [*(_AT_THE_DOOR if door else _ENGLISH), _speaker("nguyen", SPRAWL.at(row, col))]
    site = _site(_CALL, language="vi")
    scan = _road_scan(
        SPRAWL,
        site,
        CLINICIAN_SEAT,
        people,
        k=2,
        prefs=DEFAULT_PREFERENCES,
        exclude=frozenset(),
        fallback=FALLBACK,
    )
    index = ResponderIndex(people)
    for town in (SPRAWL, SPRAWL_AS_SERVER):
        apart = rank_by_road(
            site,
            CLINICIAN_SEAT,
            k=2,
            fetch=index.fetch,
            roads=town,
            fallback=FALLBACK,
            fetch_speaking=index.fetch_speaking,
        )
        got = [(str(c.candidate.id), c.score_s, c.eta_s, c.distance_m) for c in apart.choices]
        assert got == [(pid, score, eta, m) for pid, score, eta, m, _ in scan]


@pytest.mark.parametrize("row", [8, 5])  # on a street, or on an avenue (15 m/s, the fastest)
def test_the_speaker_wins_near_and_loses_far_as_the_penalty_says(row: int) -> None:
    call = SPRAWL.at(row, 5)
    site = _site(call, language="vi")
    chosen = []
    for col in (6, 9, 12, 16, 24, 35):
        people = [*_ENGLISH, _clinician("door", call), _speaker("nguyen", SPRAWL.at(row, col))]
        index = ResponderIndex(people)
        ranking = rank_by_road(
            site,
            CLINICIAN_SEAT,
            k=1,
            fetch=index.fetch,
            roads=SPRAWL,
            fallback=FALLBACK,
            fetch_speaking=index.fetch_speaking,
        )
        chosen += _ids(ranking.choices)
        assert _ids(ranking.choices) == [
            pid
            for pid, *_ in _road_scan(
                SPRAWL,
                site,
                CLINICIAN_SEAT,
                people,
                k=1,
                prefs=DEFAULT_PREFERENCES,
                exclude=frozenset(),
                fallback=FALLBACK,
            )
        ]
    # ~300 s of road is where the nearest English speaker, plus 300 s, is overtaken.
    assert chosen[0] == "nguyen" and chosen[-1] != "nguyen"


def test_nobody_near_speaking_it_gathers_the_speakers_not_everyone_within_minutes() -> None:
    # Nguyen, the one speaker, is 7.6 km east along the south bank: proving nobody
    # arrives sooner, the search without speakers apart gathers everyone within ~6
    # minutes of road; with them apart, everyone within a minute, and the speakers.
    people = [*_ENGLISH, _speaker("nguyen", SPRAWL.at(8, 24))]
    site = _site(_CALL, language="vi")
    index = ResponderIndex(people)
    gathered = {"apart": 0, "together": 0}

    def counting(name: str) -> tuple[Fetch, FetchSpeaking]:
        def fetch(ranges: Sequence[CellRange]) -> Iterator[Candidate]:
            for cand in index.fetch(ranges):
                gathered[name] += 1
                yield cand

        def fetch_speaking(ranges: Sequence[CellRange], language: str) -> Iterator[Candidate]:
            for cand in index.fetch_speaking(ranges, language):
                gathered[name] += 1
                yield cand

        return fetch, fetch_speaking

    fetch, fetch_speaking = counting("apart")
    apart = rank_by_road(
        site,
        CLINICIAN_SEAT,
        k=1,
        fetch=fetch,
        roads=SPRAWL,
        fallback=FALLBACK,
        fetch_speaking=fetch_speaking,
    )
    together = rank_by_road(
        site, CLINICIAN_SEAT, k=1, fetch=counting("together")[0], roads=SPRAWL, fallback=FALLBACK
    )
    assert apart.choices == together.choices
    assert apart.candidates_routed < together.candidates_routed
    assert gathered["apart"] * 3 < gathered["together"]


def test_an_index_fetches_the_speakers_of_a_language_as_its_fetch_filtered() -> None:
    rng = random.Random(7)
    languages = [frozenset({"en"}), frozenset({"en", "vi"}), frozenset({"vi"}), frozenset()]
    people = [
        Candidate(
            id=f"p{i}",
            kind=ResponderKind.clinician,
            lat=40.0 + rng.uniform(0, 0.05),
            lon=-75.3 + rng.uniform(0, 0.05),
            languages=rng.choice(languages),
        )
        for i in range(300)
    ]
    index = ResponderIndex(people)
    for ring in rings_around(40.02, -75.28):
        for language in ("vi", "en", "zh"):
            everyone = [c.id for c in index.fetch(ring.ranges) if language in c.languages]
            assert [c.id for c in index.fetch_speaking(ring.ranges, language)] == everyone
