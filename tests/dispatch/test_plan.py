"""Today's plan as a programme: every agency's default reproduces the fixed plan it had,
and a team's seats become roles named by kind."""

import itertools
from datetime import UTC, datetime

import pytest

from dispatch.plan import RoleNeed, roles_of
from dispatch.programme import CallFacts, SeatNeed, apply_programme, prepare_programme
from models.programme import today_document, validate_programme
from models.vocabulary import Category

TODAY = prepare_programme(validate_programme(today_document()))


def _fixed_plan(
    category: Category, weapon: bool, violence: bool, medical: bool
) -> tuple[list[tuple[str, str, bool, frozenset[str]]], bool]:
    """The plan before programmes (dispatch.plan.plan_response at 645f04b), as the
    oracle: weapon or violence brings a CIT officer and a clinician, else a clinician
    alone; a medical flag or an overdose asks for EMS; the clinician preferably has the
    skill the category calls for."""
    skills = {
        Category.substance_use: frozenset({"substance_use"}),
        Category.overdose: frozenset({"substance_use"}),
        Category.suicidal_ideation: frozenset({"suicide_risk"}),
    }.get(category, frozenset())
    clinician = ("clinician", "clinician", False, skills)
    officer = ("officer", "officer", True, frozenset[str]())
    roles = [officer, clinician] if weapon or violence else [clinician]
    return roles, medical or category == Category.overdose


@pytest.mark.parametrize(
    ("category", "weapon", "violence", "medical"),
    list(itertools.product(Category, [False, True], [False, True], [False, True])),
)
def test_the_default_programme_is_the_fixed_plan(
    category: Category, weapon: bool, violence: bool, medical: bool
) -> None:
    call = CallFacts(
        category=category,
        priority=2,
        lat=40.1,
        lon=-75.3,
        at=datetime(2026, 12, 6, 3, tzinfo=UTC),
        weapon=weapon,
        violence=violence,
        medical=medical,
    )
    decision = apply_programme(TODAY, call)
    roles, ems = _fixed_plan(category, weapon, violence, medical)
    got = [(r.role, r.kind, r.cit_required, r.preferred_skills) for r in roles_of(decision.seats)]
    assert (got, decision.ems) == (roles, ems)
    assert decision.fallback == ()


def test_seats_become_roles_named_by_kind_in_the_teams_order() -> None:
    seats = (
        SeatNeed("clinician", count=2, prefer_skills=frozenset({"youth"})),
        SeatNeed("officer", cit=True),
        SeatNeed("peer", prefer_language=False),
        SeatNeed("clinician"),
    )
    assert roles_of(seats) == (
        RoleNeed("clinician", "clinician", preferred_skills=frozenset({"youth"})),
        RoleNeed("clinician_2", "clinician", preferred_skills=frozenset({"youth"})),
        RoleNeed("officer", "officer", cit_required=True),
        RoleNeed("peer", "peer", prefer_language=False),
        RoleNeed("clinician_3", "clinician"),
    )
