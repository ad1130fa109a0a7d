"""`/v1/audit`: the audit trail, for supervisors. Read-only: there is no way to change it."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from models.audit import AuditPublic
from service.audit_log.operations import MAX_ID, Moment, Outcome
from service.trust import audit
from service.web.deps import CurrentActor, State
from service.web.responses import errors

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", responses=errors(403))
async def list_audit(
    actor: CurrentActor,
    state: State,
    action: Annotated[
        str | None,
        Query(max_length=120, description="Exactly, e.g. `POST /v1/calls` or `logon`."),
    ] = None,
    outcome: Outcome | None = None,
    token_id: uuid.UUID | None = None,
    responder_id: uuid.UUID | None = None,
    target: Annotated[str | None, Query(max_length=120, description="e.g. `call:<id>`.")] = None,
    since: Annotated[
        Moment | None, Query(description="At or after (ISO 8601 with its offset).")
    ] = None,
    until: Annotated[Moment | None, Query(description="Before (ISO 8601 with its offset).")] = None,
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Page back: only records older than this id."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditPublic]:
    """Who did what, when, from where, and how it ended, newest first (admins and
    supervisors). Every logon, change, refusal and read of a call's sensitive fields
    is here, and every read of the trail itself; records are kept for
    `CORESPOND_AUDIT_RETENTION_DAYS`. Those of no agency (unknown tokens, unrouted
    paths) are read on the server's host: `corespond audit list --no-agency`."""
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
    found = await state.uow.read(audit.list_audit, principal=actor.who, query=query)
    # Recorded before the answer leaves, after the read: a page never shows its own read.
    await state.uow.write(
        audit.record,
        actor=actor,
        outcome="success",
        detail={"filters": query.given(), "records": len(found)},
    )
    return found
