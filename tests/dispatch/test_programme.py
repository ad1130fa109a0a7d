"""An agency's programme, written as a document, decides each call's team and says why."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.programme import (
    CallFacts,
    Decision,
    Eligible,
    Outside,
    PreparedProgramme,
    apply_programme,
    eligible_rules,
    prepare_programme,
)
from models.programme import ProgrammeInvalid, validate_programme, weekly_intervals
from models.vocabulary import Category

# The issue's example, as written (issue 19).
EXAMPLE_YAML = (Path(__file__).parents[2] / "docs/programmes/example.yaml").read_text()

NEW_YORK = ZoneInfo("America/New_York")
DOWNTOWN = (40.12, -75.34)
UPTOWN = (40.20, -75.34)
HEART = "HEART downtown by day"


def _example() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE_YAML)
    return document


EXAMPLE: PreparedProgramme = prepare_programme(validate_programme(_example()))


def _call(
    category: Category = Category.mental_health_crisis,
    *,
    hour: int = 10,
    minute: int = 0,
    where: tuple[float, float] = DOWNTOWN,
    weapon: bool = False,
    violence: bool = False,
    medical: bool = False,
) -> CallFacts:
    return CallFacts(
        category=category,
        priority=2,
        lat=where[0],
        lon=where[1],
        at=datetime(2026, 11, 23, hour, minute, tzinfo=NEW_YORK),
        weapon=weapon,
        violence=violence,
        medical=medical,
    )


@pytest.mark.parametrize(
    ("call", "rule", "team", "seats", "ems", "eligible", "said"),
    [
        pytest.param(
            _call(),
            HEART,
            "heart",
            [("clinician", False), ("peer", False), ("medic", False)],
            False,
            [(HEART, None)],
            ["heart (clinician, peer, medic)", "after 600 s", "co_response (CIT officer"],
            id="heart-call-downtown-at-ten-gets-three-seats",
        ),
        pytest.param(
            _call(hour=2),
            "everything else",
            "cit_officer",
            [("officer", True)],
            False,
            [(HEART, Outside.outside_hours), ("everything else", None)],
            ['outside the hours of "HEART downtown by day"', "cit_officer (CIT officer)"],
            id="same-call-at-two-matches-everything-else-outside-heart-hours",
        ),
        pytest.param(
            _call(where=UPTOWN),
            "everything else",
            "cit_officer",
            [("officer", True)],
            False,
            [(HEART, Outside.outside_area), ("everything else", None)],
            ['outside the area of "HEART downtown by day"'],
            id="heart-call-outside-downtown-is-outside-area",
        ),
        pytest.param(
            _call(Category.overdose),
            "overdose",
            "co_response",
            [("officer", True), ("clinician", False)],
            True,
            [("overdose", None)],
            ["request EMS"],
            id="overdose-gets-co-response-with-ems",
        ),
        pytest.param(
            _call(weapon=True),
            "armed or violent",
            "co_response",
            [("officer", True), ("clinician", False)],
            False,
            [("armed or violent", None)],
            ["weapon reported", "co_response (CIT officer, clinician)"],
            id="armed-call-gets-co-response",
        ),
        pytest.param(
            _call(Category.disturbance, violence=True, hour=2),
            "armed or violent",
            "co_response",
            [("officer", True), ("clinician", False)],
            False,
            [("armed or violent", None)],
            ["violence reported"],
            id="violence-at-night-gets-co-response",
        ),
        pytest.param(
            _call(hour=23),
            "everything else",
            "cit_officer",
            [("officer", True)],
            False,
            [(HEART, Outside.outside_hours), ("everything else", None)],
            [],
            id="hours-end-at-their-closing-minute",
        ),
        pytest.param(
            _call(hour=7, where=(40.10, -75.34)),
            HEART,
            "heart",
            [("clinician", False), ("peer", False), ("medic", False)],
            False,
            [(HEART, None)],
            [],
            id="opening-minute-on-the-area-boundary-is-served",
        ),
    ],
)
def test_the_example_programme(
    call: CallFacts,
    rule: str,
    team: str,
    seats: list[tuple[str, bool]],
    ems: bool,
    eligible: list[tuple[str, Outside | None]],
    said: list[str],
) -> None:
    decision = apply_programme(EXAMPLE, call)

    assert (decision.rule, decision.team, decision.ems) == (rule, team, ems)
    assert [(s.kind, s.cit) for s in decision.seats] == seats
    assert decision.reason.startswith(f'rule "{rule}"')
    for words in said:
        assert words in decision.reason
    assert eligible_rules(EXAMPLE, call) == tuple(Eligible(r, why) for r, why in eligible)


def test_the_time_is_read_in_the_programmes_zone() -> None:
    ten_in_new_york = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    call = CallFacts(Category.welfare_check, 2, *DOWNTOWN, at=ten_in_new_york)

    assert apply_programme(EXAMPLE, call).rule == HEART


def test_a_call_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CallFacts(Category.welfare_check, 2, *DOWNTOWN, at=datetime(2026, 11, 23, 10))


def test_conditions_on_priority_age_and_absent_risk() -> None:
    document = _example()
    document["rules"].insert(
        0,
        {
            "name": "calm youth",
            "when": {"risk_none": ["weapon", "medical"], "priorities": [3, 4]},
            "send": "heart",
        },
    )
    document["rules"][0]["when"]["age_groups"] = ["youth"]
    programme = prepare_programme(validate_programme(document))

    def rule(**changes: Any) -> str:
        facts: dict[str, Any] = {"category": Category.welfare_check, "priority": 3}
        at = datetime(2026, 11, 23, 2, tzinfo=NEW_YORK)
        return apply_programme(
            programme, CallFacts(**(facts | changes), lat=0.0, lon=0.0, at=at)
        ).rule

    assert rule(age_group="youth") == "calm youth"
    assert rule(age_group="adult") == "everything else"
    assert rule() == "everything else"  # a call that states no age group
    assert rule(age_group="youth", priority=1) == "everything else"
    assert rule(age_group="youth", medical=True) == "everything else"
    # first match wins: this rule leaves violence out of risk_none, so it comes first
    assert rule(age_group="youth", violence=True) == "calm youth"
    assert rule(age_group="youth", weapon=True) == "armed or violent"


def test_weekly_hours_read_as_the_issue_writes_them() -> None:
    hours = weekly_intervals({"mon-fri": "07:00-19:00", "sat-sun": "09:00-13:00,14:00-18:00"})
    day = 24 * 60
    assert hours[0] == (7 * 60, 19 * 60)
    assert len(hours) == 5 + 2 * 2
    assert (5 * day + 14 * 60, 5 * day + 18 * 60) in hours
    assert weekly_intervals({"mon-sun": "00:00-24:00"}) == tuple(
        (d * day, (d + 1) * day) for d in range(7)
    )
    assert weekly_intervals({"sun-mon": "08:00-09:00"}) == (
        (480, 540),
        (6 * day + 480, 6 * day + 540),
    )


def _with(change: str) -> dict[str, Any]:
    """The example with one change, written as a line of Python over `d`."""
    d = _example()
    exec(change, {"d": d})  # noqa: S102 - the test's own literals
    return d


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ("d['rules'][1]['send'] = 'hart'", "rules[1].send", "unknown team"),
        (
            "d['rules'][1]['fallback'][0]['send'] = 'cahoots'",
            "rules[1].fallback[0].send",
            "unknown team",
        ),
        ("d['rules'][1]['fallback'][0]['send'] = 'heart'", "rules[1].fallback[0].send", "replaces"),
        (
            "d['rules'][3].update(send='police', fallback=[{'after_s': 5, 'send': 'heart'}])",
            "rules[3].fallback",
            "police",
        ),
        ("d['rules'][1]['when']['area'] = 'uptown'", "rules[1].when.area", "unknown area"),
        (
            "d['teams']['heart']['seats'][1]['kind'] = 'peer_specialist'",
            "teams.heart.seats[1].kind",
            "unknown kind",
        ),
        (
            "d['teams']['heart']['seats'][0]['cit'] = True",
            "teams.heart.seats[0].cit",
            "only an officer",
        ),
        ("d['teams']['police'] = {'seats': [{'kind': 'officer'}]}", "teams.police", "reserved"),
        ("d['kinds'] = ['medic']", "kinds[0]", "built-in"),
        ("d['rules'][0]['sends'] = 'heart'", "rules[0].sends", "unknown field"),
        ("d['colour'] = 'blue'", "colour", "unknown field"),
        (
            "d['teams']['heart']['seats'][0]['count'] = 0",
            "teams.heart.seats[0].count",
            "greater than",
        ),
        (
            "d['rules'][0]['when']['risk_any'] = ['knife']",
            "rules[0].when.risk_any[0]",
            "Input should be",
        ),
        (
            "d['rules'][1]['when']['hours'] = {'mon-fri': '07:00-12:00', 'fri': '11:00-13:00'}",
            "rules[1].when.hours.fri",
            "overlaps fri 07:00-12:00",
        ),
        (
            "d['rules'][1]['when']['hours'] = {'sat': '07:00-12:00,11:30-13:00'}",
            "rules[1].when.hours.sat",
            "overlaps",
        ),
        (
            "d['rules'][1]['when']['hours'] = {'mon': '09:00-09:00'}",
            "rules[1].when.hours.mon",
            "empty",
        ),
        (
            "d['rules'][1]['when']['hours'] = {'mon': '22:00-06:00'}",
            "rules[1].when.hours.mon",
            "empty",
        ),
        (
            "d['rules'][1]['when']['hours'] = {'mon': '09:00-24:30'}",
            "rules[1].when.hours.mon",
            "time of day",
        ),
        (
            "d['rules'][1]['when']['hours'] = {'weekdays': '09:00-17:00'}",
            "rules[1].when.hours.weekdays",
            "day range",
        ),
        (
            "d['rules'][1]['when']['hours'] = {'mon': '9-17'}",
            "rules[1].when.hours.mon",
            "HH:MM-HH:MM",
        ),
        (
            "d['areas']['downtown']['coordinates'] = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]",
            "areas.downtown",
            "not a valid polygon",
        ),
        (
            "d['areas']['downtown']['coordinates'] = [[[0, 0], [0, 95], [1, 0], [0, 0]]]",
            "areas.downtown",
            "latitude",
        ),
        (
            "d['areas']['downtown']['coordinates'][0].pop()",
            "areas.downtown.coordinates[0]",
            "end where it starts",
        ),
        ("d['areas']['downtown']['type'] = 'MultiPolygon'", "areas.downtown.type", "Polygon"),
        ("d['timezone'] = 'America/Gotham'", "timezone", "time zone"),
        ("d['rules'].pop()", "rules[2].when", "last rule"),
        ("d['rules'][2]['name'] = 'armed or violent'", "rules[2].name", "another rule"),
    ],
)
def test_each_error_is_named_with_its_path(change: str, path: str, message: str) -> None:
    with pytest.raises(ProgrammeInvalid) as refused:
        validate_programme(_with(change))

    assert [(e["path"], message in e["message"]) for e in refused.value.errors] == [(path, True)]


def test_every_error_is_reported_at_once_and_the_document_is_untouched() -> None:
    document = _with(
        "d['timezone'] = 'Mars/Olympus'; d['rules'][0]['send'] = 'swat'; d['colour'] = 'blue';"
        "d['rules'][1]['when']['hours'] = {'mon': '10:00-09:00'}; d['teams']['heart'] = 'three'"
    )
    before = copy.deepcopy(document)

    with pytest.raises(ProgrammeInvalid) as refused:
        validate_programme(document)

    paths = {e["path"] for e in refused.value.errors}
    assert paths == {
        "timezone",
        "rules[0].send",
        "colour",
        "rules[1].when.hours.mon",
        "teams.heart",
    }
    assert document == before
    json.dumps(refused.value.errors)  # each error is plain data, ready for a 422's body


def test_an_agency_may_declare_its_own_kinds() -> None:
    document = _with(
        "d['kinds'] = ['peer_worker']; d['teams']['heart']['seats'][1]['kind'] = 'peer_worker'"
    )
    programme = prepare_programme(validate_programme(document))

    assert [s.kind for s in apply_programme(programme, _call()).seats] == [
        "clinician",
        "peer_worker",
        "medic",
    ]


_ZONES = st.sampled_from([UTC, NEW_YORK, ZoneInfo("Asia/Tokyo")])


@st.composite
def _calls(draw: st.DrawFn) -> CallFacts:
    return CallFacts(
        category=draw(st.sampled_from(Category)),
        priority=draw(st.integers(1, 4)),
        lat=draw(st.floats(40.05, 40.19)),
        lon=draw(st.floats(-75.41, -75.27)),
        at=draw(st.datetimes(timezones=_ZONES)),
        weapon=draw(st.booleans()),
        violence=draw(st.booleans()),
        medical=draw(st.booleans()),
        age_group=draw(st.sampled_from([None, "youth", "adult", "older_adult"])),
    )


@settings(max_examples=300, deadline=None)
@given(call=_calls())
def test_every_call_gets_exactly_one_decision(call: CallFacts) -> None:
    decision = apply_programme(EXAMPLE, call)
    eligible = eligible_rules(EXAMPLE, call)

    assert isinstance(decision, Decision)
    assert eligible[-1] == Eligible(decision.rule, None)
    assert all(e.outside is not None for e in eligible[:-1])
    assert len({e.rule for e in eligible}) == len(eligible)
    assert decision == apply_programme(EXAMPLE, call)
    if call.weapon or call.violence:
        assert decision.rule == "armed or violent"
    elif call.category is Category.overdose:
        assert (decision.rule, decision.ems) == ("overdose", True)
