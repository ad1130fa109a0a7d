"""Who is chosen for one seat: eligibility, preference and the tie-break."""

from datetime import date, timedelta

import pytest
from geopy.distance import geodesic

from dispatch.index import ResponderIndex
from dispatch.plan import RoleNeed
from dispatch.ranking import CallSite, Candidate, choose_responder
from dispatch.travel import GeodesicEstimator
from models.vocabulary import ResponderKind

ON = date(2026, 11, 22)
CALL = (40.1215, -75.3399)
CIT_SEAT = RoleNeed(role="officer", kind=ResponderKind.officer, cit_required=True)
CLINICIAN_SEAT = RoleNeed(role="clinician", kind=ResponderKind.clinician)


def _north(metres: float) -> tuple[float, float]:
    return CALL[0] + metres / 111_195, CALL[1]


def _officer(name: str, metres: float, *, until: date | None) -> Candidate:
    lat, lon = _north(metres)
    return Candidate(
        id=name, kind=ResponderKind.officer, lat=lat, lon=lon, cit_certified_until=until
    )


def _clinician(name: str, metres: float, languages: set[str] | None = None) -> Candidate:
    lat, lon = _north(metres)
    return Candidate(
        id=name,
        kind=ResponderKind.clinician,
        lat=lat,
        lon=lon,
        languages=frozenset(languages or {"en"}),
    )


def _choose(
    need: RoleNeed,
    people: list[Candidate],
    *,
    language: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> str | None:
    site = CallSite(lat=CALL[0], lon=CALL[1], on=ON, language=language)
    choice = choose_responder(
        site,
        need,
        fetch=ResponderIndex(people).fetch,
        estimator=GeodesicEstimator(),
        exclude=frozenset(exclude),
    )
    return None if choice is None else str(choice.candidate.id)


@pytest.mark.parametrize(
    ("near_until", "chosen"),
    [
        pytest.param(None, "far-certified", id="never-certified-is-passed-over"),
        pytest.param(ON - timedelta(days=1), "far-certified", id="lapsed-yesterday-passed-over"),
        pytest.param(ON, "near", id="certified-through-today-counts"),
        pytest.param(ON + timedelta(days=300), "near", id="certified-next-year-counts"),
    ],
)
def test_a_cit_seat_needs_a_certification_valid_on_the_call_date(
    near_until: date | None, chosen: str
) -> None:
    people = [
        _officer("near", 100, until=near_until),
        _officer("far-certified", 3000, until=ON + timedelta(days=30)),
    ]
    assert _choose(CIT_SEAT, people) == chosen


def test_the_wrong_kind_is_never_chosen_and_nobody_eligible_means_none() -> None:
    assert _choose(CLINICIAN_SEAT, [_officer("o", 10, until=ON)]) is None
    assert _choose(CIT_SEAT, [_clinician("c", 10)]) is None
    assert _choose(CLINICIAN_SEAT, []) is None


def test_excluded_responders_are_skipped() -> None:
    people = [_clinician("declined", 50), _clinician("next", 900)]
    assert _choose(CLINICIAN_SEAT, people, exclude=frozenset({"declined"})) == "next"


@pytest.mark.parametrize(
    ("speaker_at", "chosen"),
    [
        pytest.param(1_500, "speaker", id="a-speaker-a-little-farther-wins"),
        pytest.param(30_000, "nearest", id="but-not-one-far-beyond-the-penalty"),
    ],
)
def test_a_responder_who_speaks_the_callers_language_is_preferred(
    speaker_at: float, chosen: str
) -> None:
    people = [_clinician("nearest", 200), _clinician("speaker", speaker_at, {"en", "es"})]
    assert _choose(CLINICIAN_SEAT, people, language="es") == chosen


def test_a_seat_that_does_not_prefer_the_callers_language_takes_the_nearest() -> None:
    """`prefer_language: false` on a seat (a medic's, say): the language costs nothing."""
    people = [_clinician("nearest", 200), _clinician("speaker", 1000, {"en", "es"})]
    seat = RoleNeed(role="clinician", kind="clinician", prefer_language=False)
    assert _choose(seat, people, language="es") == "nearest"
    assert _choose(CLINICIAN_SEAT, people, language="es") == "speaker"


def test_equal_travel_goes_to_the_smaller_id() -> None:
    lat, lon = _north(400)
    twins = [
        Candidate(id=name, kind=ResponderKind.clinician, lat=lat, lon=lon)
        for name in ("b-twin", "a-twin")
    ]
    assert _choose(CLINICIAN_SEAT, twins) == "a-twin"


def test_the_reported_distance_is_geopys_geodesic_and_eta_follows_from_it() -> None:
    site = CallSite(lat=CALL[0], lon=CALL[1], on=ON)
    estimator = GeodesicEstimator(circuity=1.5)
    choice = choose_responder(
        site,
        CLINICIAN_SEAT,
        fetch=ResponderIndex([_clinician("c", 2_000)]).fetch,
        estimator=estimator,
    )
    assert choice is not None
    there = (choice.candidate.lat, choice.candidate.lon)
    assert abs(choice.distance_m - geodesic(CALL, there).meters) < 0.05
    speed = estimator.speeds_mps[ResponderKind.clinician]
    assert choice.eta_s == pytest.approx(choice.distance_m * 1.5 / speed)
