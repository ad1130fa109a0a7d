"""The delivery log: one entry an event sent to an endpoint (its status, tries, last
error), the newest `KEEP` an endpoint. Written with each round, on the hot path: the
statements are prepared."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import col

from models.webhook import DeliveryStatus, WebhookDelivery
from service.store.prepared import Prepared
from service.store.transaction import Tx

KEEP = 500  # entries kept an endpoint, newest


@dataclass(frozen=True, slots=True)
class Try:
    """One POST of one event, and how it went (`error` None: a 2xx)."""

    seq: int
    event: str
    at: datetime
    http_status: int | None = None
    error: str | None = None


def delivered(tx: Tx, endpoint_id: uuid.UUID, sent: Sequence[Try], *, retried: int) -> None:
    """Log a round's deliveries; the first closes the entry of the event that had
    failed `retried` times before, if any."""
    if not sent:
        return
    rest = sent
    if retried and _settle(tx, endpoint_id, sent[0], retried + 1, DeliveryStatus.delivered):
        rest = sent[1:]
    if rest:
        tx.run_many(_INSERT, [_entry(endpoint_id, t, 1, DeliveryStatus.delivered) for t in rest])


def failed(
    tx: Tx, endpoint_id: uuid.UUID, attempt: Try, attempts: int, *, fresh: bool, gave_up: bool
) -> None:
    """Log a failed try: a new entry for an event's first, else its entry brought up to date."""
    status = DeliveryStatus.failed if gave_up else DeliveryStatus.retrying
    if fresh or not _settle(tx, endpoint_id, attempt, attempts, status):
        tx.run_many(_INSERT, [_entry(endpoint_id, attempt, attempts, status)])


def prune(tx: Tx, endpoint_id: uuid.UUID) -> None:
    """Keep the newest `KEEP` entries of the endpoint."""
    tx.run(_PRUNE, {"endpoint": endpoint_id})


def _settle(
    tx: Tx, endpoint_id: uuid.UUID, attempt: Try, attempts: int, status: DeliveryStatus
) -> bool:
    """Bring the retried event's entry up to date; False if it has none."""
    return bool(
        tx.changed(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.endpoint_id) == endpoint_id,
                col(WebhookDelivery.seq) == attempt.seq,
                col(WebhookDelivery.status) == DeliveryStatus.retrying,
            )
            .values(
                status=status,
                attempts=attempts,
                http_status=attempt.http_status,
                error=attempt.error,
                last_tried_at=attempt.at,
            )
        )
    )


def _entry(
    endpoint_id: uuid.UUID, attempt: Try, attempts: int, status: DeliveryStatus
) -> dict[str, object]:
    return {
        "endpoint_id": endpoint_id,
        "seq": attempt.seq,
        "event": attempt.event,
        "status": status,
        "attempts": attempts,
        "http_status": attempt.http_status,
        "error": attempt.error,
        "first_tried_at": attempt.at,
        "last_tried_at": attempt.at,
    }


# `inline`: PostgreSQL is not asked to return the new ids.
_INSERT = Prepared(insert(WebhookDelivery).inline())
_PRUNE = Prepared(
    delete(WebhookDelivery).where(
        col(WebhookDelivery.endpoint_id) == bindparam("endpoint"),
        col(WebhookDelivery.id)
        < (
            select(col(WebhookDelivery.id))
            .where(col(WebhookDelivery.endpoint_id) == bindparam("endpoint"))
            .order_by(col(WebhookDelivery.id).desc())
            .offset(KEEP - 1)
            .limit(1)
            .scalar_subquery()
        ),
    )
)
