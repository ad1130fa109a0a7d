"""Who may do what, and what each principal may see."""

from models.agency import Principal
from models.event import EventMessage
from models.vocabulary import Role
from service.errors import Forbidden

STAFF = frozenset({Role.admin, Role.supervisor, Role.dispatcher})
CALL_TAKERS = frozenset({Role.admin, Role.supervisor, Role.dispatcher, Role.cad})


def require_role(principal: Principal, allowed: frozenset[Role], action: str) -> None:
    if principal.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise Forbidden(f"a {principal.role.value} token may not {action}; it takes {names}")


def may_see_event(principal: Principal, event: EventMessage) -> bool:
    """Staff and CAD see their whole agency; a responder only what concerns it."""
    if event.agency_id != principal.agency_id:
        return False
    if principal.role == Role.responder:
        return event.responder_id is not None and event.responder_id == principal.responder_id
    return True
