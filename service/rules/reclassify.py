"""A call updated after intake is planned again by the programme in force.

1. Its rule is decided again from the call as it now reads, at the time it was received
   (hours and areas judge the call as at intake, as the ledger's eligibility does).
2. The same rule: the team stays; only EMS follows the rule's answer.
3. Another rule with the same team: the plan names the new rule, its reason and its
   fallbacks (counted from now); nobody is moved.
4. Another team: it replaces the old as a fallback does (who fits stays, the rest are
   stood down, the empty seats offered). When the update raised a risk flag, the old
   rule is noted unserved `escalated_by_risk`; a call reclassified otherwise (a category that
   was wrong, a flag withdrawn) was never that rule's to serve, and is not noted.
5. Either way the new rule's own ledger entries are recorded as at intake: the rules
   it was eligible for but outside of, and a team that gave way at once.
"""

from dispatch.config import DispatchConfig
from models.call import Call
from models.rules import UnservedReason
from service.dispatching.routed import Routed
from service.rules.fallback import note_unserved, replace_team
from service.rules.planning import facts_of_call, plan_for, record_intake
from service.rules.programmes import in_force
from service.store.transaction import Tx

RECLASSIFIED = "reclassified"  # a plan's `taken` reason for a team changed by an update


def plan_again(
    tx: Tx,
    call: Call,
    *,
    raised: bool,
    said: str,
    config: DispatchConfig,
    routed: Routed | None = None,
) -> bool:
    """Re-apply the programme to `call` after an update (`said` in a dispatcher's words,
    `raised` when a risk flag went from false to true; `routed`, a new team's seats
    ranked by road before the write). True if the team changed."""
    force = in_force(tx, call.agency_id)
    planned = plan_for(tx, force, call.agency_id, facts_of_call(call))
    decision = planned.decision
    if decision.rule == call.plan_rule:
        if decision.ems != call.plan_ems:
            asked = "EMS requested" if decision.ems else "EMS no longer requested"
            call.plan_ems = decision.ems
            call.plan_reason = f"{call.plan_reason}; {said}: {asked}"[:2000]
        return False
    columns = planned.columns(force, tx.now)
    old_rule, same_team = call.plan_rule, planned.team == call.plan_team
    if raised and not same_team:
        note_unserved(tx, call, UnservedReason.escalated_by_risk, force)
    call.plan_rule = decision.rule
    call.plan_ems = decision.ems
    call.programme_version = force.version
    call.plan_reason = columns["plan_reason"]
    record_intake(tx, call, planned, force)
    # Rules may be named after categories: their names stay in the plan's reason (which
    # `trust.disclosure` rewrites for those kept from categories), out of `said`, which
    # responders stood down read.
    moved = f'rule "{old_rule}" gave way to "{decision.rule}"'
    if same_team:  # the same seats (a rule may prefer other skills on them): nobody moves
        call.plan_roles = columns["plan_roles"]
        call.plan_fallback = columns["plan_fallback"]
        call.plan_fallback_at = columns["plan_fallback_at"]
        call.plan_reason = f"{call.plan_reason}; {said}: {moved}, {call.plan_team} stays"[:2000]
        return False
    replace_team(
        tx,
        call,
        team=planned.team,
        roles=columns["plan_roles"],
        remaining=columns["plan_fallback"],
        why=UnservedReason.escalated_by_risk.value if raised else RECLASSIFIED,
        said=said,
        config=config,
        force=force,
        routed=routed,
    )
    call.plan_reason = f"{call.plan_reason} ({moved})"[:2000]
    if columns["plan_taken"]:  # the new rule's team gave way at once: say it in order
        *before, replaced = call.plan_taken
        replaced = {**replaced, "to_team": decision.team}
        call.plan_taken = [*before, replaced, *columns["plan_taken"]]
    return True
