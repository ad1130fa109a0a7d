"""Which team a call needs, and why, in words a dispatcher reads."""

import pytest

from dispatch.plan import Classification, PlanRules, ResponseMode, plan_response
from models.vocabulary import Category, ResponderKind

MH = Category.mental_health_crisis


@pytest.mark.parametrize(
    ("classification", "mode", "roles", "ems", "said"),
    [
        pytest.param(
            Classification(MH, weapon=True),
            ResponseMode.co_response,
            [("officer", True), ("clinician", False)],
            False,
            "weapon reported",
            id="weapon-call-gets-cit-officer-and-clinician",
        ),
        pytest.param(
            Classification(Category.disturbance, violence=True),
            ResponseMode.co_response,
            [("officer", True), ("clinician", False)],
            False,
            "violence reported",
            id="violence-gets-co-response",
        ),
        pytest.param(
            Classification(Category.welfare_check),
            ResponseMode.clinician,
            [("clinician", False)],
            False,
            "without police",
            id="no-safety-flag-sends-a-clinician-alone",
        ),
        pytest.param(
            Classification(MH, medical=True),
            ResponseMode.clinician,
            [("clinician", False)],
            True,
            "request EMS",
            id="medical-flag-asks-for-ems",
        ),
        pytest.param(
            Classification(Category.overdose),
            ResponseMode.clinician,
            [("clinician", False)],
            True,
            "request EMS",
            id="overdose-asks-for-ems",
        ),
        pytest.param(
            Classification(Category.suicidal_ideation, weapon=True, violence=True),
            ResponseMode.co_response,
            [("officer", True), ("clinician", False)],
            False,
            "weapon and violence reported",
            id="both-flags-named",
        ),
    ],
)
def test_default_rules(
    classification: Classification,
    mode: ResponseMode,
    roles: list[tuple[str, bool]],
    ems: bool,
    said: str,
) -> None:
    plan = plan_response(classification)

    assert plan.mode == mode
    assert [(r.kind.value, r.cit_required) for r in plan.roles] == roles
    assert plan.ems is ems
    assert said in plan.reason


def test_an_agency_may_send_a_cit_officer_alone_but_a_weapon_still_brings_a_clinician() -> None:
    rules = PlanRules(officer_alone_categories=frozenset({Category.disturbance}))

    alone = plan_response(Classification(Category.disturbance), rules)
    armed = plan_response(Classification(Category.disturbance, weapon=True), rules)

    assert alone.mode == ResponseMode.officer
    assert [(r.kind, r.cit_required) for r in alone.roles] == [(ResponderKind.officer, True)]
    assert "agency rule" in alone.reason
    assert armed.mode == ResponseMode.co_response


@pytest.mark.parametrize(
    ("category", "skills"),
    [
        (Category.substance_use, {"substance_use"}),
        (Category.overdose, {"substance_use"}),
        (Category.suicidal_ideation, {"suicide_risk"}),
        (Category.welfare_check, set()),
    ],
)
def test_clinicians_with_the_right_skills_are_preferred(
    category: Category, skills: set[str]
) -> None:
    clinician = next(r for r in plan_response(Classification(category)).roles)
    assert clinician.preferred_skills == skills
