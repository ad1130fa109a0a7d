"""Minimum necessary: which of a call's sensitive details each principal may see.

Two details are withheld unless the principal needs them:
1. the narrative: staff and CAD read it; a responder only once it has accepted the call,
   and an officer only where the agency allows it (`officers_see_narrative`);
2. that a call concerns substance use (42 CFR Part 2: it may not be used against the
   person by police): staff, CAD, clinicians, peers, medics and an agency's own civilian
   kinds see the category; officers (the only kind that is police) do not unless the
   agency allows it (`officers_see_substance_use`).
What was withheld is named in the answer's `withheld`, so a console can say so.

Hiding the category only on substance-use calls would name them (a `null` there and
nowhere else), and so would what follows from the category: EMS asked for an overdose
with no medical flag, a preferred `substance_use` skill, a reason that says why. So an
officer kept from substance use sees no call's category and nothing derived from it:
every call reads `category: null` with `withheld` naming it, EMS as the medical flag,
no preferred skills, no rule (a rule may be named after a category), and a reason said
from what the officer may see (the flags and the team). Event payloads keep only the
fields listed here as neutral, so a field added to a call's summary later reaches such
officers only once it is listed.
"""

from typing import Any

from models.agency import Principal
from models.vocabulary import Category, ResponderKind, Role

SUBSTANCE_USE = frozenset({Category.substance_use, Category.overdose})


def disclosure_for(
    role: Role,
    responder_kind: ResponderKind | str | None,
    *,
    officers_see_narrative: bool,
    officers_see_substance_use: bool,
) -> tuple[bool, bool]:
    """(sees_narrative, sees_substance_use) for a token of `role` in an agency whose
    officers see narratives and substance use as its two settings say."""
    if role == Role.responder and responder_kind == ResponderKind.officer:
        return officers_see_narrative, officers_see_substance_use
    if role == Role.provider:  # a resource's staff: no call of the agency is theirs
        return False, False
    return True, True


def redaction_of(principal: Principal) -> bool:
    """All that `redact_event_data` asks of a principal: two with the same answer see
    an event the same (the hub encodes each event once per answer)."""
    return principal.sees_substance_use


def hides_category(principal: Principal) -> bool:
    """Whether `principal` is kept from knowing which calls concern substance use: then
    it is shown no call's category, nor anything that follows from it (see above)."""
    return not principal.sees_substance_use


def reason_without_category(
    *, team: str, roles: list[dict[str, Any]], weapon: bool, violence: bool, medical: bool
) -> str:
    """The plan's reason as a principal that `hides_category` reads it: said from the
    flags and the team alone, so that it reads the same on every call with the same
    flags and team. The plan's own reason names its rule, which may name the category,
    and may ask for EMS because of it."""
    flags = [name for name, on in (("weapon", weapon), ("violence", violence)) if on]
    said = f"{' and '.join(flags)} reported" if flags else "no weapon or violence reported"
    if team == "police":
        said += ": referred to police"
    else:
        seats = ", ".join(
            f"CIT {r['kind']}" if r.get("cit_required") else str(r["kind"]) for r in roles
        )
        said += f": {team} ({seats})"
    if medical:
        said += "; medical need: request EMS"
    return said


def redact_event_data(data: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """An event's payload as `principal` may see it (events never carry narratives).

    A call's summary (`offers.call_summary`: the payload of `call.created`, the `call`
    of `assignment.offered`) is the part that can tell a call's category."""
    nested = data.get("call")
    if isinstance(nested, dict):
        redacted = _redact_summary(nested, principal)
        return data if redacted is nested else {**data, "call": redacted}
    return _redact_summary(data, principal)


# What of a call's summary a principal that `hides_category` is sent unchanged.
_NEUTRAL = (
    "id",
    "external_id",
    "location",
    "risk",
    "priority",
    "language",
    "status",
    "has_narrative",
    "received_at",
)


def _redact_summary(summary: dict[str, Any], principal: Principal) -> dict[str, Any]:
    if "category" not in summary or not hides_category(principal):
        return summary
    redacted: dict[str, Any] = {}
    for key, value in summary.items():
        if key in _NEUTRAL:
            redacted[key] = value
        elif key == "category":
            redacted[key] = None
        elif key == "plan" and isinstance(value, dict) and "team" in value:
            redacted[key] = _plan_without_category(value, summary.get("risk"))
    redacted["withheld"] = ["category"]
    return redacted


def _plan_without_category(plan: dict[str, Any], risk: Any) -> dict[str, Any]:
    flags = risk if isinstance(risk, dict) else {}
    medical = bool(flags.get("medical"))
    roles = [
        {
            "role": r.get("role"),
            "kind": r.get("kind"),
            "cit_required": r.get("cit_required", False),
            "preferred_skills": [],
            "prefer_language": r.get("prefer_language", True),
        }
        for r in plan.get("roles", [])
    ]
    reason = reason_without_category(
        team=plan["team"],
        roles=roles,
        weapon=bool(flags.get("weapon")),
        violence=bool(flags.get("violence")),
        medical=medical,
    )
    # Named one by one: a key added to the plan later reaches such officers once judged
    # neutral here. A team's name is shown (the officer is on it, and sees who else is).
    return {
        "rule": None,
        "team": plan["team"],
        "roles": roles,
        "reason": reason,
        "ems": medical,
        "fallback_at": plan.get("fallback_at"),
        "fallback_team": plan.get("fallback_team"),
    }
