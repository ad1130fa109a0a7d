"""Idempotency keys: a retried POST gets the first answer, never a second effect.

Two steps. `begin` claims the key in its own transaction, so a concurrent
duplicate sees it in flight. The work and `finish` then commit together: if the
work committed, its answer is stored with it, whatever happens next.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col

from models.idempotency import IdempotentRequest
from service.errors import Conflict, Invalid
from service.store.transaction import Tx

# A claim older than this belongs to a request whose process died mid-flight.
ABANDONED_AFTER = timedelta(seconds=30)
KEEP_FOR = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def begin(tx: Tx, *, agency_id: uuid.UUID, key: str, fingerprint: str) -> StoredResponse | None:
    """Claim `key`; or the stored answer if the same request already finished.

    Same key with another request: Invalid. Same request still running: Conflict.
    """
    row = tx.session.get(IdempotentRequest, (agency_id, key))
    if row is None:
        tx.session.add(
            IdempotentRequest(
                agency_id=agency_id, key=key, fingerprint=fingerprint, started_at=tx.now
            )
        )
        return None
    if row.fingerprint != fingerprint:
        raise Invalid(
            "this Idempotency-Key was used for a different request; use a new key per request"
        )
    if row.finished_at is not None and row.response_status is not None:
        return StoredResponse(status=row.response_status, body=row.response_body or {})
    if row.started_at > tx.now - ABANDONED_AFTER:
        raise Conflict("a request with this Idempotency-Key is still in flight; retry shortly")
    taken = tx.changed(
        update(IdempotentRequest)
        .where(
            col(IdempotentRequest.agency_id) == agency_id,
            col(IdempotentRequest.key) == key,
            col(IdempotentRequest.started_at) == row.started_at,
        )
        .values(started_at=tx.now)
    )
    if taken != 1:
        raise Conflict("a request with this Idempotency-Key is still in flight; retry shortly")
    return None


def finish(tx: Tx, *, agency_id: uuid.UUID, key: str, status: int, body: dict[str, Any]) -> None:
    tx.session.execute(
        update(IdempotentRequest)
        .where(col(IdempotentRequest.agency_id) == agency_id, col(IdempotentRequest.key) == key)
        .values(finished_at=tx.now, response_status=status, response_body=body)
    )


def abandon(tx: Tx, *, agency_id: uuid.UUID, key: str) -> None:
    """The work failed and wrote nothing: free the key so a retry runs afresh."""
    tx.session.execute(
        delete(IdempotentRequest).where(
            col(IdempotentRequest.agency_id) == agency_id,
            col(IdempotentRequest.key) == key,
            col(IdempotentRequest.finished_at).is_(None),
        )
    )


def forget_old(tx: Tx) -> int:
    """Drop stored answers older than `KEEP_FOR` (they hold call details)."""
    return tx.changed(
        delete(IdempotentRequest).where(col(IdempotentRequest.started_at) < tx.now - KEEP_FOR)
    )
