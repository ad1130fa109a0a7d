"""The H3 search with cheap bounds returns what a geodesic scan of everyone would."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.index import ResponderIndex
from dispatch.plan import RoleNeed
from dispatch.ranking import CallSite, Candidate, Preferences, penalty_s, rank_responders
from dispatch.travel import GeodesicEstimator, NearCall, Point, geodesic_m
from models.vocabulary import ResponderKind

ESTIMATOR = GeodesicEstimator()
ON = date(2026, 11, 22)


def _brute_force(site: CallSite, need: RoleNeed, people: list[Candidate], k: int) -> list[str]:
    scored = []
    for person in people:
        if person.kind != need.kind:
            continue
        travel = ESTIMATOR.travel(
            need.kind, Point(person.lat, person.lon), Point(site.lat, site.lon)
        )
        score = travel.eta_s + penalty_s(person, need, site, Preferences())
        scored.append((score, str(person.id)))
    return [pid for _, pid in sorted(scored)[:k]]


@st.composite
def _scenes(draw: st.DrawFn) -> tuple[CallSite, list[Candidate]]:
    lat = draw(st.sampled_from([40.12, -33.9, 1.3, 59.9, 68.0]))
    lon = draw(st.floats(-179.0, 179.0))
    spread = draw(st.sampled_from([0.002, 0.02, 0.3, 1.2]))
    count = draw(st.integers(1, 60))
    people = []
    for i in range(count):
        dlat = draw(st.floats(-spread, spread))
        dlon = draw(st.floats(-spread, spread))
        speaks = draw(st.sampled_from([frozenset({"en"}), frozenset({"en", "es"})]))
        people.append(
            Candidate(
                id=f"c{i:03d}",
                kind=ResponderKind.clinician,
                lat=max(-89.0, min(89.0, lat + dlat)),
                lon=lon + dlon,
                languages=speaks,
            )
        )
    language = draw(st.sampled_from([None, "es"]))
    return CallSite(lat=lat, lon=lon, on=ON, language=language), people


@settings(max_examples=150, deadline=None)
@given(scene=_scenes(), k=st.sampled_from([1, 3]))
def test_the_search_ranks_like_a_geodesic_scan_of_everyone(
    scene: tuple[CallSite, list[Candidate]], k: int
) -> None:
    site, people = scene
    need = RoleNeed(role="clinician", kind=ResponderKind.clinician)
    ranked = rank_responders(
        site, need, k=k, fetch=ResponderIndex(people).fetch, estimator=ESTIMATOR
    )
    assert [str(c.candidate.id) for c in ranked] == _brute_force(site, need, people, k)
    for choice in ranked:
        exact = geodesic_m(
            Point(site.lat, site.lon), Point(choice.candidate.lat, choice.candidate.lon)
        )
        assert abs(choice.distance_m - exact) <= 0.05


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-89.0, 89.0),
    lon=st.floats(-180.0, 180.0),
    dlat=st.floats(-2.0, 2.0),
    dlon=st.floats(-2.0, 2.0),
)
def test_the_cheap_bound_never_exceeds_the_geodesic(
    lat: float, lon: float, dlat: float, dlon: float
) -> None:
    other = Point(max(-90.0, min(90.0, lat + dlat)), lon + dlon)
    near = NearCall(lat, lon)
    exact = geodesic_m(Point(lat, lon), other)
    assert near.lower_bound_m(other.lat, other.lon) <= exact
    metres, error = near.approx_m(other.lat, other.lon)
    assert abs(metres - exact) <= error * exact + 1e-6
