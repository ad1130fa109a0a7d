"""Waiting calls get one choice for all of them: priority, then age, then least travel."""

from datetime import UTC, date, datetime, timedelta

from dispatch.index import ResponderIndex
from dispatch.plan import RoleNeed
from dispatch.ranking import CallSite, Candidate, Fetch
from dispatch.travel import GeodesicEstimator
from dispatch.waiting import WaitingNeed, assign_waiting
from models.vocabulary import ResponderKind

ORIGIN = (40.1215, -75.3399)
CLINICIAN = RoleNeed(role="clinician", kind=ResponderKind.clinician)
CIT_OFFICER = RoleNeed(role="officer", kind=ResponderKind.officer, cit_required=True)
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _north(metres: float) -> tuple[float, float]:
    return ORIGIN[0] + metres / 111_195, ORIGIN[1]


def _clinician(name: str, metres: float) -> Candidate:
    lat, lon = _north(metres)
    return Candidate(id=name, kind=ResponderKind.clinician, lat=lat, lon=lon)


def _waiting(
    name: str, metres: float, *, priority: int = 2, minutes_ago: int = 0, need: RoleNeed = CLINICIAN
) -> WaitingNeed:
    lat, lon = _north(metres)
    return WaitingNeed(
        key=name,
        site=CallSite(lat=lat, lon=lon, on=date(2026, 11, 22)),
        need=need,
        priority=priority,
        received_at=T0 - timedelta(minutes=minutes_ago),
    )


def _assign(waiting: list[WaitingNeed], people: list[Candidate]) -> dict[str, str]:
    index = ResponderIndex(people)

    def fetch_for(kind: str) -> Fetch:
        return index.fetch

    chosen = assign_waiting(waiting, fetch_for=fetch_for, estimator=GeodesicEstimator())
    return {str(need.key): str(choice.candidate.id) for need, choice in chosen}


def test_two_waiting_calls_share_two_clinicians_for_the_least_total_travel() -> None:
    # Greedy by age would give the older call A its nearest (P, 1.1 km) and leave
    # B with Q, 3.2 km away: 4.3 km in all. Together: A-Q 1.2 km, B-P 0.9 km.
    calls = [_waiting("A", 0, minutes_ago=10), _waiting("B", 2000, minutes_ago=5)]
    people = [_clinician("P", 1100), _clinician("Q", -1200)]

    assert _assign(calls, people) == {"A": "Q", "B": "P"}


def test_a_more_urgent_call_is_served_first_however_far() -> None:
    calls = [_waiting("routine", 100, priority=3, minutes_ago=30), _waiting("urgent", 9000)]

    assert _assign(calls, [_clinician("P", 0)]) == {"urgent": "P"}


def test_among_equally_urgent_calls_the_oldest_is_served_first() -> None:
    calls = [_waiting("newer", 50, minutes_ago=1), _waiting("older", 5000, minutes_ago=20)]

    assert _assign(calls, [_clinician("P", 0)]) == {"older": "P"}


def test_an_older_call_nobody_free_can_serve_does_not_block_a_newer_one() -> None:
    calls = [
        _waiting("needs-officer", 0, minutes_ago=30, need=CIT_OFFICER),
        _waiting("needs-clinician", 500, minutes_ago=1),
    ]

    assert _assign(calls, [_clinician("P", 0)]) == {"needs-clinician": "P"}


def test_responders_who_declined_a_call_are_not_offered_it_again() -> None:
    declined = WaitingNeed(
        key="A",
        site=CallSite(lat=ORIGIN[0], lon=ORIGIN[1], on=date(2026, 11, 22)),
        need=CLINICIAN,
        priority=2,
        received_at=T0,
        exclude=frozenset({"P"}),
    )

    assert _assign([declined], [_clinician("P", 0), _clinician("Q", 3000)]) == {"A": "Q"}


def test_nobody_free_means_nobody_assigned() -> None:
    assert _assign([_waiting("A", 0)], []) == {}
