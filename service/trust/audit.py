"""The audit trail: writing records, reading them back for supervisors, retention.

Successful changes are audited inside their own transaction (`UnitOfWork.write_as`
asks the `Actor` to witness it), so no change commits without its record; refusals
and failures, which write nothing else, are audited afterwards by
`web.audit_refusals` or the socket.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlmodel import col

from models.agency import Principal
from models.audit import AuditPublic, AuditRecord
from models.vocabulary import Role
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust.access import require_role

AUDIT_READERS = frozenset({Role.admin, Role.supervisor})


@dataclass(slots=True)
class Actor:
    """Who is acting, from where, doing what: the who/what/where of an audit record."""

    principal: Principal | None
    source: str | None
    action: str
    target: str | None = None
    status: int | None = None
    recorded: bool = field(default=False, compare=False)

    @property
    def who(self) -> Principal:
        """The authenticated principal (every actor but a failed logon has one)."""
        if self.principal is None:
            raise RuntimeError("an anonymous actor cannot act")
        return self.principal

    def witness(self, tx: Tx) -> None:
        """Record this actor's success in `tx` (the unit of work's `write_as` asks it)."""
        record(tx, actor=self, outcome="success", target=self.target or tx.first_target())


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    if status in (401, 403, 404):
        return "denied"
    if status < 500:
        return "rejected"
    return "failed"


def record(
    tx: Tx,
    *,
    actor: Actor,
    outcome: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    agency_id: uuid.UUID | None = None,
) -> None:
    """Add one audit record to the transaction (`agency_id` for acts with no principal,
    such as the command line's)."""
    principal = actor.principal
    tx.run(
        _INSERT_AUDIT,
        {
            "at": tx.now,
            "agency_id": principal.agency_id if principal else agency_id,
            "token_id": principal.token_id if principal else None,
            "role": principal.role if principal else None,
            "responder_id": principal.responder_id if principal else None,
            "action": actor.action[:120],
            "target": target if target is not None else actor.target,
            "outcome": outcome,
            "status": actor.status,
            "source": actor.source[:64] if actor.source else None,
            "detail": detail,
        },
    )


# Audit rows are never read back in the transaction that writes them: prepared, and
# `inline` so that PostgreSQL is not asked to return the new id.
_INSERT_AUDIT = Prepared(insert(AuditRecord).inline())


def record_command(tx: Tx, *, agency_id: uuid.UUID, action: str, **detail: Any) -> None:
    """Audit an act from the `corespond` command line (run on the server's host)."""
    actor = Actor(principal=None, source="command line", action=action)
    record(tx, actor=actor, outcome="success", agency_id=agency_id, detail=detail or None)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    action: str | None = None
    outcome: str | None = None
    token_id: uuid.UUID | None = None
    responder_id: uuid.UUID | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 100


def list_audit(tx: Tx, *, principal: Principal, query: AuditQuery) -> list[AuditPublic]:
    """The agency's audit records, newest first, filtered; page with `before`."""
    require_role(principal, AUDIT_READERS, "read the audit log")
    q = select(AuditRecord).where(col(AuditRecord.agency_id) == principal.agency_id)
    filters = (
        (query.action, col(AuditRecord.action)),
        (query.outcome, col(AuditRecord.outcome)),
        (query.token_id, col(AuditRecord.token_id)),
        (query.responder_id, col(AuditRecord.responder_id)),
        (query.target, col(AuditRecord.target)),
    )
    for value, column in filters:
        if value is not None:
            q = q.where(column == value)
    if query.since is not None:
        q = q.where(col(AuditRecord.at) >= query.since)
    if query.until is not None:
        q = q.where(col(AuditRecord.at) < query.until)
    if query.before is not None:
        q = q.where(col(AuditRecord.id) < query.before)
    q = q.order_by(col(AuditRecord.id).desc()).limit(query.limit)
    return [AuditPublic.of(r) for r in tx.session.execute(q).scalars()]


# Rows deleted a transaction by the retention purges (audit records and events).
PURGE_BATCH = 5000


def purge_old_audit(tx: Tx, *, keep: timedelta, limit: int = PURGE_BATCH) -> int:
    """Delete at most `limit` records past retention, oldest first (the only deletion
    the trail allows); housekeeping repeats it while whole batches go."""
    oldest = (
        select(col(AuditRecord.id))
        .where(col(AuditRecord.at) < tx.now - keep)
        .order_by(col(AuditRecord.id))
        .limit(limit)
    )
    return tx.changed(delete(AuditRecord).where(col(AuditRecord.id).in_(oldest)))
