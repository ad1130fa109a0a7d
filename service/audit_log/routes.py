"""`/v1/audit`: the audit trail, for supervisors. Read-only: there is no way to change it."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from models.audit import AuditPublic
from models.columns import UTCMoment
from service.trust import audit
from service.web.deps import CurrentPrincipal, State
from service.web.responses import errors

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Outcome = Literal["success", "denied", "rejected", "failed"]


@router.get("", responses=errors(403))
async def list_audit(
    principal: CurrentPrincipal,
    state: State,
    action: Annotated[
        str | None,
        Query(max_length=120, description="Exactly, e.g. `POST /v1/calls` or `logon`."),
    ] = None,
    outcome: Outcome | None = None,
    token_id: uuid.UUID | None = None,
    responder_id: uuid.UUID | None = None,
    target: Annotated[str | None, Query(max_length=120, description="e.g. `call:<id>`.")] = None,
    since: Annotated[UTCMoment | None, Query(description="At or after (ISO 8601).")] = None,
    until: Annotated[UTCMoment | None, Query(description="Before (ISO 8601).")] = None,
    before: Annotated[
        int | None, Query(ge=1, description="Page back: only records older than this id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditPublic]:
    """Who did what, when, from where, and how it ended, newest first (admins and
    supervisors). Every logon, change, refusal and read of a call's sensitive fields
    is here; records are kept for `CORESPOND_AUDIT_RETENTION_DAYS`."""
    query = audit.AuditQuery(
        action=action,
        outcome=outcome,
        token_id=token_id,
        responder_id=responder_id,
        target=target,
        since=since,
        until=until,
        before=before,
        limit=limit,
    )
    return await state.uow.read(audit.list_audit, principal=principal, query=query)
