"""The delivery log, the newest `KEEP` entries an endpoint: an entry for each event that
failed (its status, tries, last error), and one for each round's run of deliveries
(`seq` through `through_seq`). Written with each round, on the hot path: the
statements are prepared, and a round writes one entry, not one an event (at 25 calls a
second, three endpoints took some 950 rows a second into the serving process's
batches, beside the offers', and POST -> offer's p99 rose by a fifth)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import col

from models.webhook import EVENT_RUN_MIXED, DeliveryStatus, WebhookDelivery
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
    """Log a round's deliveries, in order, as one entry; the first closes the entry of
    the event that had failed `retried` times before, if any."""
    if not sent:
        return
    rest = sent
    if retried and _settle(tx, endpoint_id, sent[0], retried + 1, DeliveryStatus.delivered):
        rest = sent[1:]
    if rest:
        tx.run_many(_INSERT, [_entry(endpoint_id, rest, 1, DeliveryStatus.delivered)])


def failed(
    tx: Tx, endpoint_id: uuid.UUID, attempt: Try, attempts: int, *, fresh: bool, gave_up: bool
) -> None:
    """Log a failed try: a new entry for an event's first, else its entry brought up to date."""
    status = DeliveryStatus.failed if gave_up else DeliveryStatus.retrying
    if fresh or not _settle(tx, endpoint_id, attempt, attempts, status):
        tx.run_many(_INSERT, [_entry(endpoint_id, [attempt], attempts, status)])


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
    endpoint_id: uuid.UUID, tries: Sequence[Try], attempts: int, status: DeliveryStatus
) -> dict[str, object]:
    """The entry of one event's tries, or of a round's run of deliveries (each a 2xx):
    the receiver's last answer, the events' type if they were all of one."""
    first, last = tries[0], tries[-1]
    kinds = {t.event for t in tries}
    return {
        "endpoint_id": endpoint_id,
        "seq": first.seq,
        "through_seq": last.seq,
        "events": len(tries),
        "event": first.event if len(kinds) == 1 else EVENT_RUN_MIXED,
        "status": status,
        "attempts": attempts,
        "http_status": last.http_status,
        "error": last.error,
        "first_tried_at": first.at,
        "last_tried_at": last.at,
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
