"""Real programmes written as documents (docs/programmes/) are accepted and send the
team each programme sends."""

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from dispatch.programme import (
    CallFacts,
    Eligible,
    Outside,
    PreparedProgramme,
    apply_programme,
    eligible_rules,
    prepare_programme,
)
from models.programme import today_document, validate_programme
from models.vocabulary import Category as C

PROGRAMMES = Path(__file__).parents[2] / "docs" / "programmes"
ZONES = {
    "star": ZoneInfo("America/Denver"),
    "heart": ZoneInfo("America/New_York"),
    "cahoots": ZoneInfo("America/Los_Angeles"),
    "today": ZoneInfo("UTC"),
}
PLACES = {
    "star": (39.7392, -104.9903),  # Civic Center, inside the illustrative STAR area
    "heart": (35.9940, -78.8990),  # downtown Durham, inside the illustrative pilot
    "cahoots": (44.0521, -123.0868),  # downtown Eugene
    "today": (40.1215, -75.3399),
}
OUTSIDE = {"star": (39.7600, -104.8800), "heart": (35.9040, -78.9440)}  # Central Park; Southpoint
STAR_OFF = "outside STAR's area or hours"
HEART_OFF = "outside HEART's area or hours: Durham Police"
CO_RESPONSE = ["officer", "clinician"]


def _document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((PROGRAMMES / f"{name}.yaml").read_text())
    return document


@cache
def _programme(name: str) -> PreparedProgramme:
    return prepare_programme(validate_programme(_document(name)))


def _call(
    name: str,
    category: C = C.mental_health_crisis,
    *,
    day: int = 23,  # Monday 23 November 2026
    hour: int = 10,
    outside: bool = False,
    weapon: bool = False,
    violence: bool = False,
    medical: bool = False,
) -> tuple[str, CallFacts]:
    lat, lon = (OUTSIDE if outside else PLACES)[name]
    at = datetime(2026, 11, day, hour, tzinfo=ZONES[name])
    facts = CallFacts(category, 2, lat, lon, at, weapon=weapon, violence=violence, medical=medical)
    return name, facts


@pytest.mark.parametrize("name", ["star", "heart", "cahoots", "today"])
def test_each_programme_document_is_accepted(name: str) -> None:
    assert validate_programme(_document(name)).rules


def test_today_yaml_is_todays_document() -> None:
    assert _document("today") == today_document()


@pytest.mark.parametrize(
    ("call", "rule", "team", "kinds", "ems", "passed_over"),
    [
        pytest.param(_call("star"), "STAR", "star", ["clinician", "medic"], False, [],
                     id="star-crisis-downtown-by-day-gets-clinician-and-medic"),
        pytest.param(_call("star", weapon=True), "weapon or violence", "co_response", CO_RESPONSE,
                     False, [], id="star-call-with-a-weapon-gets-co-response-not-star"),
        pytest.param(_call("star", C.welfare_check, hour=23), STAR_OFF, "co_response", CO_RESPONSE,
                     False, [("STAR", Outside.outside_hours)], id="star-welfare-check-at-night"),
        pytest.param(_call("star", C.disturbance, outside=True), STAR_OFF, "co_response",
                     CO_RESPONSE, False, [("STAR", Outside.outside_area)],
                     id="star-disturbance-outside-the-area"),
        pytest.param(_call("star", C.overdose), "overdose: Denver Health paramedics", "police", [],
                     True, [], id="star-overdose-goes-to-paramedics"),
        pytest.param(_call("heart", C.disturbance), "HEART community response", "heart",
                     ["clinician", "peer", "medic"], False, [],
                     id="heart-trespass-in-area-and-hours-gets-three-seats"),
        pytest.param(_call("heart", C.substance_use, day=28), HEART_OFF, "police", [], False,
                     [("HEART community response", Outside.outside_hours)],
                     id="heart-intoxicated-person-on-saturday-goes-to-police"),
        pytest.param(_call("heart", C.substance_use, outside=True), HEART_OFF, "police", [], False,
                     [("HEART community response", Outside.outside_area)],
                     id="heart-intoxicated-person-outside-the-pilot-area"),
        pytest.param(_call("heart", C.welfare_check, violence=True, medical=True),
                     "weapon or violence, and a medical need", "co_response", CO_RESPONSE, True, [],
                     id="heart-violent-call-with-medical-need-gets-co-response-and-ems"),
        pytest.param(_call("cahoots", medical=True), "medical emergency: fire and EMS", "police",
                     [], True, [], id="cahoots-medical-emergency-goes-to-police-with-ems"),
        pytest.param(_call("cahoots", C.disturbance, violence=True),
                     "crime, weapon or a hostile person: Eugene Police", "police", [], False, [],
                     id="cahoots-hostile-person-goes-to-police"),
        pytest.param(_call("cahoots", C.welfare_check, hour=3), "CAHOOTS", "cahoots",
                     ["crisis_worker", "medic"], False, [], id="cahoots-welfare-check-at-three"),
        pytest.param(_call("cahoots", C.overdose), "overdose: CAHOOTS with fire and EMS",
                     "cahoots", ["crisis_worker", "medic"], True, [], id="cahoots-overdose"),
        pytest.param(_call("today", C.overdose, weapon=True),
                     "weapon or violence, and a medical need or an overdose", "co_response",
                     CO_RESPONSE, True, [], id="today-armed-overdose"),
    ],
)  # fmt: skip
def test_a_programme_sends_its_own_team(
    call: tuple[str, CallFacts],
    rule: str,
    team: str,
    kinds: list[str],
    ems: bool,
    passed_over: list[tuple[str, Outside]],
) -> None:
    name, facts = call
    decision = apply_programme(_programme(name), facts)

    assert (decision.rule, decision.team, decision.ems) == (rule, team, ems)
    assert [seat.kind for seat in decision.seats] == kinds
    assert decision.reason.startswith(f'rule "{rule}"')
    passed = tuple(Eligible(r, why) for r, why in passed_over)
    assert eligible_rules(_programme(name), facts) == (*passed, Eligible(rule, None))


def test_star_falls_back_to_co_response_and_prefers_a_suicide_risk_clinician() -> None:
    decision = apply_programme(_programme("star"), _call("star", C.suicidal_ideation)[1])

    assert [(step.after_s, step.team) for step in decision.fallback] == [(900, "co_response")]
    assert [(s.kind, set(s.prefer_skills)) for s in decision.seats] == [
        ("clinician", {"suicide_risk"}),
        ("medic", set()),
    ]
    assert "after 900 s without every seat filled, co_response (CIT officer, clinician)" in (
        decision.reason
    )
