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
    """Staff and CAD see their whole agency; a responder only what concerns it; a
    provider (who acts for one resource over HTTP) no event."""
    if event.agency_id != principal.agency_id or principal.role == Role.provider:
        return False
    if principal.role == Role.responder:
        return event.responder_id is not None and event.responder_id == principal.responder_id
    return True


# What a `provider` token may reach: its resource, and that resource's capacity.
PROVIDER_PATHS = ("/v1/resources",)


def confine_provider(principal: Principal, path: str) -> None:
    """Refuse a provider token anything but the directory's routes, where it reads its
    own resource and sets its capacity (the routes check which resource)."""
    if principal.role == Role.provider and not path.startswith(PROVIDER_PATHS):
        raise Forbidden("a provider token may only read its resource and set its capacity")
