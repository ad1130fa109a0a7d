"""From a call's classification to the team it needs: `plan_response`."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from models.vocabulary import Category, ResponderKind


class ResponseMode(StrEnum):
    co_response = "co_response"  # CIT officer and clinician together
    clinician = "clinician"  # alternative response, no police
    officer = "officer"  # CIT officer alone


@dataclass(frozen=True, slots=True)
class Classification:
    """What the dispatcher or the CAD said about the call."""

    category: Category
    weapon: bool = False
    violence: bool = False
    medical: bool = False


@dataclass(frozen=True, slots=True)
class RoleNeed:
    """One seat on the team: who may fill it and what is preferred in them."""

    role: str
    kind: ResponderKind
    cit_required: bool = False
    preferred_skills: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Plan:
    mode: ResponseMode
    roles: tuple[RoleNeed, ...]
    ems: bool
    reason: str


_DEFAULT_SKILLS: Mapping[Category, frozenset[str]] = MappingProxyType(
    {
        Category.substance_use: frozenset({"substance_use"}),
        Category.overdose: frozenset({"substance_use"}),
        Category.suicidal_ideation: frozenset({"suicide_risk"}),
    }
)


@dataclass(frozen=True, slots=True)
class PlanRules:
    """The rules an agency can change; the defaults follow DESIGN.md."""

    officer_alone_categories: frozenset[Category] = frozenset()
    ems_categories: frozenset[Category] = frozenset({Category.overdose})
    clinician_skills: Mapping[Category, frozenset[str]] = field(
        default_factory=lambda: _DEFAULT_SKILLS
    )


DEFAULT_RULES = PlanRules()


def plan_response(classification: Classification, rules: PlanRules = DEFAULT_RULES) -> Plan:
    """Decide which roles a call needs, and say why in words a dispatcher reads."""
    c = classification
    skills = rules.clinician_skills.get(c.category, frozenset())
    officer = RoleNeed(role="officer", kind=ResponderKind.officer, cit_required=True)
    clinician = RoleNeed(role="clinician", kind=ResponderKind.clinician, preferred_skills=skills)
    # The order matters:
    # 1. a safety flag (weapon, violence) always brings a CIT officer alongside a clinician;
    # 2. else an agency may send a CIT officer alone for some categories;
    # 3. else a clinician goes alone (alternative response);
    # 4. and, whatever the team, a medical flag or an overdose also asks for EMS.
    roles: tuple[RoleNeed, ...]
    flags = [name for name, on in (("weapon", c.weapon), ("violence", c.violence)) if on]
    if flags:
        mode, roles = ResponseMode.co_response, (officer, clinician)
        reason = f"{' and '.join(flags)} reported: CIT officer and clinician together"
    elif c.category in rules.officer_alone_categories:
        mode, roles = ResponseMode.officer, (officer,)
        reason = f"{c.category.value.replace('_', ' ')}: CIT officer by agency rule"
    else:
        mode, roles = ResponseMode.clinician, (clinician,)
        reason = "no safety flag: clinician responds without police"
    ems = c.medical or c.category in rules.ems_categories
    if ems:
        reason += "; medical need: request EMS"
    return Plan(mode=mode, roles=roles, ems=ems, reason=reason)
