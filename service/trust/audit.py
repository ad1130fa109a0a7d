"""The audit trail: writing records, reading them back for supervisors, retention.

Successful changes are audited inside their own transaction (`UnitOfWork.write_as`
asks the `Actor` to witness it), so no change commits without its record; refusals
and failures, which write nothing else, are audited afterwards by
`web.audit_refusals` or the socket.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlmodel import col

from models.agency import Principal
from models.audit import AuditPublic, AuditRecord
from models.vocabulary import Role
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust.access import require_role
from service.trust.disclosure import SUBSTANCE_USE

AUDIT_READERS = frozenset({Role.admin, Role.supervisor})


@dataclass(slots=True)
class Actor:
    """Who is acting, from where, doing what: the who/what/where of an audit record."""

    principal: Principal | None
    source: str | None
    action: str
    target: str | None = None
    status: int | None = None
    # What a change changed (a responder's new status, an assignment's progress): the
    # events that also say it are purged long before the trail (90 days against 365).
    detail: dict[str, Any] | None = None
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
    such as the command line's; `detail` in place of the actor's own)."""
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
            "detail": detail if detail is not None else actor.detail,
        },
    )


# Audit rows are never read back in the transaction that writes them: prepared, and
# `inline` so that PostgreSQL is not asked to return the new id.
_INSERT_AUDIT = Prepared(insert(AuditRecord).inline())


def record_command(tx: Tx, *, agency_id: uuid.UUID | None, action: str, **detail: Any) -> None:
    """Audit an act from the `corespond` command line (run on the server's host); one that
    concerns no single agency has none."""
    actor = Actor(principal=None, source="command line", action=action)
    record(tx, actor=actor, outcome="success", agency_id=agency_id, detail=detail or None)


def sensitive_shown(*, narrative: str | None, category: str | None) -> list[str]:
    """Which of a call's sensitive details a view of it with this `narrative` and
    `category` shows: the reading of each is audited."""
    return [
        name
        for name, shown in (
            ("narrative", narrative is not None),
            ("category", category in SUBSTANCE_USE),
        )
        if shown
    ]


def record_replay(tx: Tx, *, actor: Actor, answer: Mapping[str, Any], target: str | None) -> None:
    """Audit a stored answer given again to a retry (its Idempotency-Key) as the first was:
    the same action, target and status, marked `replayed`, naming the sensitive details of
    a call that it shows again."""
    detail: dict[str, Any] = {**(actor.detail or {}), "replayed": True}
    if {"id", "narrative", "category", "withheld"} <= answer.keys():  # a call's view
        shown = sensitive_shown(narrative=answer["narrative"], category=answer["category"])
        if shown:
            detail |= {"read": "sensitive", "calls": {str(answer["id"]): shown}}
    record(tx, actor=actor, outcome="success", target=target, detail=detail)


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

    def given(self) -> dict[str, Any]:
        """The filters set, as JSON (what a read of the trail records of itself)."""
        return {
            f.name: value if isinstance(value, int | str) else _as_json(value)
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
        }


def _as_json(value: uuid.UUID | datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def list_audit(tx: Tx, *, principal: Principal, query: AuditQuery) -> list[AuditPublic]:
    """The agency's audit records, newest first, filtered; page with `before`."""
    require_role(principal, AUDIT_READERS, "read the audit log")
    q = filtered(query).where(col(AuditRecord.agency_id) == principal.agency_id)
    return [AuditPublic.of(r) for r in tx.session.execute(q).scalars()]


def filtered(query: AuditQuery) -> Select[AuditRecord]:
    """The records `query` asks for, newest first, of every agency (the caller narrows
    it to the ones it may read)."""
    q = select(AuditRecord)
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
    return q.order_by(col(AuditRecord.id).desc()).limit(query.limit)


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
