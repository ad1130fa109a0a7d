"""The delivery loop's reads and writes: which endpoints are due, claiming one (a lease),
and what a round of deliveries did.

The event log is the outbox: an endpoint keeps only its cursor (every seq up to it
was delivered or was not one it asked for), so an event is never copied and nothing
is lost by a crash: after one, the endpoint goes on from its cursor. Each write here
is one short transaction; no transaction is open while a delivery is in flight.
"""

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import bindparam, exists, select, update
from sqlmodel import col

from models.columns import iso_utc
from models.event import Event
from models.webhook import WebhookEndpoint
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.webhooks import delivery_log
from service.webhooks.delivery_log import Try

P = ParamSpec("P")
T = TypeVar("T")


class Reader(Protocol):
    """What the agencies' tails ask of a unit of work."""

    async def read(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...


class Store(Reader, Protocol):
    """What the deliveries ask of a unit of work: reads and writes, and the writes the
    serving process makes (`record_round`, every round: its bus publishes the events
    a round may record, and its writer takes the round in a batch of its own writes,
    with no other process holding the database's write lock; `child.ParentStore`)."""

    async def write(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    async def write_in_server(self, fn: Callable[..., T], **kwargs: Any) -> T: ...


BACKOFF_FIRST_S = 2.0  # the first retry comes within this (jittered down to half)
BACKOFF_MAX_S = 60.0  # and the pause doubles up to this


def backoff_s(attempts: int) -> float:
    """The pause after the `attempts`-th failed try of an event: 2 s, 4, 8, … up to
    60 s, each jittered down by up to half, so endpoints that failed together (a
    receiver's outage) do not all come back at the same instant."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, attempts - 1))
    return float(ceiling * random.uniform(0.5, 1.0))


@dataclass(frozen=True, slots=True)
class Due:
    """What the loop should claim now, and when the next retry falls due."""

    ids: list[uuid.UUID]
    next_at: datetime | None


def due_endpoints(tx: Tx, *, skip: frozenset[uuid.UUID]) -> Due:
    """Endpoints not disabled, nobody's turn (or a lapsed one), with events after their
    cursor (any event of the agency: whether it is one they asked for, their round
    reads); those waiting for a retry say when."""
    newer = exists().where(
        col(Event.agency_id) == col(WebhookEndpoint.agency_id),
        col(Event.seq) > col(WebhookEndpoint.cursor),
    )
    rows = tx.session.execute(
        select(col(WebhookEndpoint.id), col(WebhookEndpoint.next_try_at)).where(
            col(WebhookEndpoint.disabled_at).is_(None),
            col(WebhookEndpoint.lease_until).is_(None)
            | (col(WebhookEndpoint.lease_until) < tx.now),
            newer,
        )
    ).all()
    ids = [i for i, at in rows if i not in skip and (at is None or at <= tx.now)]
    later = [at for i, at in rows if i not in skip and at is not None and at > tx.now]
    return Due(ids=ids, next_at=min(later, default=None))


def enabled_endpoints(tx: Tx) -> dict[uuid.UUID, uuid.UUID]:
    """Every endpoint not disabled, and its agency."""
    rows = tx.session.execute(
        select(col(WebhookEndpoint.id), col(WebhookEndpoint.agency_id)).where(
            col(WebhookEndpoint.disabled_at).is_(None)
        )
    )
    return dict(rows.tuples().all())


def agencies_with_endpoints(tx: Tx) -> set[uuid.UUID]:
    """The agencies with an endpoint not disabled (none: the delivery process is not
    wanted; their events are fed to it)."""
    rows = tx.session.execute(
        select(col(WebhookEndpoint.agency_id))
        .where(col(WebhookEndpoint.disabled_at).is_(None))
        .distinct()
    )
    return set(rows.scalars().all())


@dataclass(frozen=True, slots=True)
class Claimed:
    """An endpoint this replica may deliver to until `lease_until`, as it stood."""

    id: uuid.UUID
    agency_id: uuid.UUID
    url: str
    events: list[str]
    secret: str
    cursor: int
    attempts: int
    claim: uuid.UUID


def claim(tx: Tx, *, ids: list[uuid.UUID], lease_s: float) -> list[Claimed]:
    """Take the turn of each endpoint in `ids` that is still free and due: a conditional
    UPDATE with an expiry (the same statement on SQLite and PostgreSQL), so with
    several replicas one sends each delivery; a replica that dies loses its turn when
    the lease lapses."""
    if not ids:
        return []
    mine = uuid.uuid4()
    tx.session.execute(
        update(WebhookEndpoint)
        .where(
            col(WebhookEndpoint.id).in_(ids),
            col(WebhookEndpoint.disabled_at).is_(None),
            col(WebhookEndpoint.lease_until).is_(None)
            | (col(WebhookEndpoint.lease_until) < tx.now),
            col(WebhookEndpoint.next_try_at).is_(None)
            | (col(WebhookEndpoint.next_try_at) <= tx.now),
        )
        .values(lease_owner=mine, lease_until=tx.now + timedelta(seconds=lease_s))
    )
    rows = tx.session.execute(
        select(WebhookEndpoint).where(col(WebhookEndpoint.lease_owner) == mine)
    ).scalars()
    return [
        Claimed(
            id=r.id,
            agency_id=r.agency_id,
            url=r.url,
            events=list(r.events),
            secret=r.secret,
            cursor=r.cursor,
            attempts=r.attempts,
            claim=mine,
        )
        for r in rows
    ]


def release(
    tx: Tx,
    *,
    endpoint_id: uuid.UUID,
    claim: uuid.UUID,
    skipped: tuple[int, int] | None = None,
) -> None:
    """Give the turn back (idle, or stopping), if it is still this claim's; with
    `skipped` (from, to), move the cursor past events it did not ask for, unless an
    admin moved it meanwhile."""
    mine = (col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.lease_owner) == claim)
    if skipped is not None and skipped[1] > skipped[0]:
        tx.session.execute(
            update(WebhookEndpoint)
            .where(*mine, col(WebhookEndpoint.cursor) == skipped[0])
            .values(cursor=skipped[1])
        )
    tx.session.execute(
        update(WebhookEndpoint).where(*mine).values(lease_owner=None, lease_until=None)
    )


@dataclass(slots=True)
class Round:
    """What one claim did between two writes: delivered events in order, perhaps one
    that failed, and the cursor it reached (past events it did not ask for, too)."""

    endpoint_id: uuid.UUID
    claim: uuid.UUID
    started_at: int  # the cursor it began from
    through: int  # every seq up to this was delivered or skipped
    delivered: list[Try] = field(default_factory=list)
    failed: Try | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """After a round: whether the claim may go on, and from which cursor."""

    holding: bool
    cursor: int = 0


def record_round(tx: Tx, *, done: Round, give_up: timedelta, lease_s: float) -> Standing:
    """Write what a round did: its deliveries in the log, the endpoint's cursor, and on
    a failure its retry time (giving the turn up until then), or, failing for
    `give_up`, disable it and tell the agency's dispatchers (`webhook.disabled`).

    If the endpoint was deleted, or another claim took it, nothing is written; if an
    admin redelivered meanwhile, the round is logged and the endpoint goes on from
    the cursor the admin set."""
    row = tx.run(_HELD, {"id": done.endpoint_id, "claim": done.claim}).first()
    if row is None:
        return Standing(holding=False)
    delivery_log.delivered(tx, row.id, done.delivered, retried=row.attempts)
    lease = tx.now + timedelta(seconds=lease_s)
    if row.cursor != done.started_at:  # redelivered meanwhile: from its cursor
        tx.run(_ADVANCE, {"id": row.id, "cursor": row.cursor, "lease": lease})
        delivery_log.prune(tx, row.id)
        return Standing(holding=True, cursor=row.cursor)
    if done.failed is None:
        tx.run(_ADVANCE, {"id": row.id, "cursor": done.through, "lease": lease})
        delivery_log.prune(tx, row.id)
        return Standing(holding=True, cursor=done.through)
    _fail(tx, row, done, give_up)
    delivery_log.prune(tx, row.id)
    return Standing(holding=False)


_HELD = Prepared(
    select(
        col(WebhookEndpoint.id),
        col(WebhookEndpoint.agency_id),
        col(WebhookEndpoint.url),
        col(WebhookEndpoint.cursor),
        col(WebhookEndpoint.attempts),
        col(WebhookEndpoint.failing_since),
    ).where(
        col(WebhookEndpoint.id) == bindparam("id"),
        col(WebhookEndpoint.lease_owner) == bindparam("claim"),
    )
)
# A round that went well: on from `cursor`, no failure, the lease renewed.
_ADVANCE = Prepared(
    update(WebhookEndpoint)
    .where(col(WebhookEndpoint.id) == bindparam("id"))
    .values(
        cursor=bindparam("cursor"),
        attempts=0,
        failing_since=None,
        next_try_at=None,
        last_error=None,
        lease_until=bindparam("lease"),
    )
)


def _keep(tx: Tx, endpoint_id: uuid.UUID, **values: object) -> None:
    tx.session.execute(
        update(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id).values(**values)
    )


def _fail(tx: Tx, row: Any, done: Round, give_up: timedelta) -> None:
    """A failed round: retry after a backoff, or give up."""
    failed = done.failed
    assert failed is not None
    # A round that got further than its start began a new failure, of a new event.
    fresh = done.through > done.started_at or row.failing_since is None
    attempts = 1 if fresh else row.attempts + 1
    since = failed.at if fresh or row.failing_since is None else row.failing_since
    gave_up = tx.now - since >= give_up
    delivery_log.failed(tx, row.id, failed, attempts, fresh=fresh, gave_up=gave_up)
    values: dict[str, object] = {
        "cursor": done.through,
        "attempts": attempts,
        "failing_since": since,
        "last_error": failed.error,
        "lease_owner": None,
        "lease_until": None,
    }
    if not gave_up:
        _keep(tx, row.id, next_try_at=tx.now + timedelta(seconds=backoff_s(attempts)), **values)
        return
    _keep(tx, row.id, next_try_at=None, disabled_at=tx.now, **values)
    tx.record(
        "webhook.disabled",
        agency_id=row.agency_id,
        data={
            "id": str(row.id),
            "host": urlsplit(row.url).hostname,
            "failing_since": iso_utc(since),
            "seq": failed.seq,
            "last_error": failed.error,
            "reason": f"webhook to {urlsplit(row.url).hostname} disabled: failing for "
            f"{_lasting(tx.now - since)} ({failed.error}); an admin can redeliver from "
            f"seq {failed.seq}",
        },
    )


def _lasting(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


# The writes the delivery process may ask the serving process to make, by name.
SERVER_WRITES: dict[str, Callable[..., Any]] = {"record_round": record_round}
