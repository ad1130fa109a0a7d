"""What the routes and the command line ask of programme rules, with who may ask it."""

from typing import Any

from models.agency import Principal
from models.call import PlanPreview, PreviewRequest
from models.rules import RulesPublic, RulesVersion
from models.vocabulary import Role
from service.rules import ledger, programmes
from service.rules.planning import facts_of, plan_for, preview
from service.store.transaction import Tx
from service.trust.access import CALL_TAKERS, require_role
from service.trust.audit import Actor

READERS = CALL_TAKERS  # staff and CAD read the programme and preview plans
SETTERS = frozenset({Role.admin, Role.supervisor})

report_unserved = ledger.report_unserved


def read_rules(tx: Tx, *, principal: Principal) -> RulesPublic:
    require_role(principal, READERS, "read the programme")
    return programmes.current_rules(tx, principal.agency_id)


def list_versions(tx: Tx, *, principal: Principal) -> list[RulesVersion]:
    require_role(principal, READERS, "read the programme")
    return programmes.rules_history(tx, principal.agency_id)


def read_version(tx: Tx, *, principal: Principal, version: int) -> RulesPublic:
    require_role(principal, READERS, "read the programme")
    return programmes.rules_version(tx, principal.agency_id, version)


def replace_rules(tx: Tx, *, by: Actor, document: dict[str, Any]) -> RulesPublic:
    principal = by.who
    require_role(principal, SETTERS, "set the programme")
    set_by = f"{principal.role.value} token {principal.token_id}"
    old, new = programmes.set_rules(
        tx, agency_id=principal.agency_id, document=document, set_by=set_by
    )
    by.detail = {"old_version": old, "new_version": new.version}
    return new


def preview_plan(tx: Tx, *, principal: Principal, body: PreviewRequest) -> PlanPreview:
    require_role(principal, READERS, "preview plans")
    at = body.at or tx.now
    force = programmes.in_force(tx, principal.agency_id)
    planned = plan_for(tx, force, principal.agency_id, facts_of(body, at), staffed=False)
    return preview(planned, force, at)
