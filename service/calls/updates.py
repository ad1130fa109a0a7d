"""A call updated after intake: what the dispatcher or the CAD learned since.

A change to the classification (category, risk flags, priority, age group) plans the
call again by its programme (`rules.reclassify`); a weapon reported on the way can
bring a CIT officer in place of a civilian team. Narrative and language change only
what they say. The call's location is fixed: a call in another place is another call.
"""

import uuid
from typing import Any

from dispatch.config import DispatchConfig
from models.agency import Principal
from models.call import Call, CallPublic, CallUpdate
from models.vocabulary import CallStatus
from service.calls.operations import call_view, get_call
from service.dispatching.offers import call_summary
from service.dispatching.routed import Routed
from service.errors import Conflict
from service.outcomes.operations import record_if_referred
from service.rules.reclassify import plan_again
from service.store.transaction import Tx
from service.trust.access import CALL_TAKERS, require_role

OPEN = frozenset({CallStatus.pending, CallStatus.dispatched})
_FLAGS = ("weapon", "violence", "medical")
CLASSIFICATION = frozenset({"category", "priority", "age_group", *_FLAGS})


def update_call(
    tx: Tx,
    *,
    principal: Principal,
    call_id: uuid.UUID,
    body: CallUpdate,
    config: DispatchConfig,
    routed: Routed | None = None,
) -> CallPublic:
    """Change what `body` gives; a changed classification re-applies the programme (a
    new team's seats offered by road where `by_road.route_update` ranked them before
    this write). The same values again change nothing and record nothing."""
    require_role(principal, CALL_TAKERS, "update calls")
    call = get_call(tx, principal=principal, call_id=call_id)
    if call.status not in OPEN:
        raise Conflict(f"call is {call.status}: only a pending or dispatched call can be updated")
    changes = changes_of(call, body)
    if not changes:
        return call_view(tx, call, principal)
    for name, (_, new) in changes.items():
        setattr(call, name, new)
    raised = [f for f in _FLAGS if f in changes and changes[f][1]]
    if CLASSIFICATION & changes.keys():
        plan_again(tx, call, raised=bool(raised), said=_said(changes), config=config, routed=routed)
        record_if_referred(tx, call)  # a rule that now sends police: the call's close record
    tx.session.flush()
    tx.record(
        "call.updated",
        agency_id=call.agency_id,
        call_id=call.id,
        data={**call_summary(call), "changed": sorted(changes)},
    )
    return call_view(tx, call, principal)


def changes_of(call: Call, body: CallUpdate) -> dict[str, tuple[Any, Any]]:
    """Each field whose value `body` changes: name → (old, new)."""
    given: dict[str, Any] = {
        name: getattr(body, name) for name in body.model_fields_set if name != "risk"
    }
    if body.risk is not None:
        given.update({flag: getattr(body.risk, flag) for flag in body.risk.model_fields_set})
    return {
        name: (getattr(call, name), value)
        for name, value in given.items()
        if getattr(call, name) != value
    }


def _said(changes: dict[str, tuple[Any, Any]]) -> str:
    """The classification's changes in a dispatcher's words, said so that a responder
    stood down may read them: never the narrative, nor the category (an officer may be
    kept from knowing which calls concern substance use)."""
    parts = []
    raised = [f for f in _FLAGS if f in changes and changes[f][1]]
    dropped = [f for f in _FLAGS if f in changes and not changes[f][1]]
    if raised:
        parts.append(f"{' and '.join(raised)} reported")
    if dropped:
        parts.append(f"{' and '.join(dropped)} no longer reported")
    if "category" in changes:
        parts.append("reclassified")
    if "priority" in changes:
        old, new = changes["priority"]
        parts.append(f"priority {old} to {new}")
    if "age_group" in changes:
        parts.append(f"age group {changes['age_group'][1] or 'not known'}")
    return f"updated: {', '.join(parts)}"
