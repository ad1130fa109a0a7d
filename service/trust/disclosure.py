"""Minimum necessary: which of a call's sensitive details each principal may see.

Two details are withheld unless the principal needs them:
1. the narrative: staff and CAD read it; a responder only once it has accepted the call,
   and an officer only where the agency allows it (`officers_see_narrative`);
2. that a call concerns substance use (42 CFR Part 2: it may not be used against the
   person by police): staff, CAD and clinicians see the category; officers see `null`
   unless the agency allows it (`officers_see_substance_use`).
What was withheld is named in the answer's `withheld`, so a console can say so.
"""

from typing import Any

from models.agency import Principal
from models.vocabulary import Category, ResponderKind, Role

SUBSTANCE_USE = frozenset({Category.substance_use, Category.overdose})
WITHHELD_CATEGORY = "call type withheld"


def disclosure_for(
    role: Role,
    responder_kind: ResponderKind | str | None,
    *,
    officers_see_narrative: bool,
    officers_see_substance_use: bool,
) -> tuple[bool, bool]:
    """(sees_narrative, sees_substance_use) for a token of `role` in an agency whose
    officers see narratives and substance use as its two settings say."""
    if role == Role.responder and responder_kind != ResponderKind.clinician:
        return officers_see_narrative, officers_see_substance_use
    return True, True


def redaction_of(principal: Principal) -> bool:
    """All that `redact_event_data` asks of a principal: two with the same answer see
    an event the same (the hub encodes each event once per answer)."""
    return principal.sees_substance_use


def withholds_category(principal: Principal, category: Category | str | None) -> bool:
    return category in SUBSTANCE_USE and not principal.sees_substance_use


def redact_reason(reason: str, category: str) -> str:
    """A plan's reason without the words that would name the withheld category."""
    return reason.replace(str(category).replace("_", " "), WITHHELD_CATEGORY)


def redact_event_data(data: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """An event's payload as `principal` may see it (events never carry narratives)."""
    nested = data.get("call")
    if isinstance(nested, dict):
        redacted = _redact_summary(nested, principal)
        return data if redacted is nested else {**data, "call": redacted}
    return _redact_summary(data, principal)


def _redact_summary(summary: dict[str, Any], principal: Principal) -> dict[str, Any]:
    category = summary.get("category")
    if not isinstance(category, str) or not withholds_category(principal, category):
        return summary
    redacted = {**summary, "category": None, "withheld": ["category"]}
    plan = summary.get("plan")
    if isinstance(plan, dict) and isinstance(plan.get("reason"), str):
        redacted["plan"] = {**plan, "reason": redact_reason(plan["reason"], category)}
    return redacted
