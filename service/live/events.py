"""Reading the event log: the head, what a console missed, acks and retention."""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, delete, func, select, update
from sqlmodel import col

from models.agency import ApiToken, Principal
from models.call import Assignment
from models.event import Event, EventCounter, EventMessage
from models.vocabulary import AssignmentState, Role
from service.errors import say
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust.audit import PURGE_BATCH

log = structlog.get_logger(__name__)


def head_seq(tx: Tx) -> int:
    """The last seq handed out (committed, since the counter commits with its events)."""
    return int(
        tx.session.execute(
            select(col(EventCounter.last_seq)).where(col(EventCounter.id) == 1)
        ).scalar_one()
    )


# An event as consoles get it, read as columns (`_messages`), not loaded as an object.
_MESSAGE = select(*[col(getattr(Event, name)) for name in EventMessage.model_fields])

# Prepared (compiled once): the webhooks' tail reads an agency's new events up to fifty
# times a second, where the ORM's query building and loading cost more than the rows;
# the hub's gap filling (a lost or late bus message) reads the same way.
_AFTER = (
    _MESSAGE.where(
        col(Event.agency_id) == bindparam("agency_id"), col(Event.seq) > bindparam("after")
    )
    .order_by(col(Event.seq))
    .limit(bindparam("limit"))
)
_AFTER_OF_AGENCY = Prepared(_AFTER)
_AFTER_OF_RESPONDER = Prepared(_AFTER.where(col(Event.responder_id) == bindparam("responder_id")))
_BETWEEN = Prepared(
    _MESSAGE.where(
        col(Event.seq) > bindparam("after"), col(Event.seq) <= bindparam("through")
    ).order_by(col(Event.seq))
)


def _messages(rows: Iterable[Any]) -> list[EventMessage]:
    return [EventMessage.model_validate(row._asdict()) for row in rows]


def events_after(tx: Tx, *, principal: Principal, after: int, limit: int) -> list[EventMessage]:
    """The events after seq `after` that `principal` may see, oldest first."""
    params = {"agency_id": principal.agency_id, "after": after, "limit": limit}
    if principal.role == Role.responder:
        rows = tx.run(_AFTER_OF_RESPONDER, params | {"responder_id": principal.responder_id})
    else:
        rows = tx.run(_AFTER_OF_AGENCY, params)
    return _messages(rows)


def events_between(tx: Tx, *, after: int, through: int) -> list[EventMessage]:
    """Every agency's events with `after < seq <= through`, oldest first (the hub's
    gap filling)."""
    return _messages(tx.run(_BETWEEN, {"after": after, "through": through}))


def purged_through(tx: Tx) -> int:
    """Events up to this seq are past retention: a console behind it must re-read state."""
    return int(
        tx.session.execute(
            select(col(EventCounter.purged_through)).where(col(EventCounter.id) == 1)
        ).scalar_one()
    )


def purge_old_events(tx: Tx, *, keep: timedelta, limit: int = PURGE_BATCH) -> int:
    """Delete at most `limit` events older than `keep`, oldest first, and move the
    watermark. Housekeeping calls it again while it deletes a whole batch: a day's
    events in one statement would hold the write turn (and, on SQLite, the event
    loop) for seconds."""
    oldest = (
        select(col(Event.seq))
        .where(col(Event.at) < tx.now - keep)
        .order_by(col(Event.seq))
        .limit(limit)
        .subquery()
    )
    last = tx.session.execute(select(func.max(oldest.c.seq))).scalar_one_or_none()
    if last is None:
        return 0
    deleted = tx.changed(delete(Event).where(col(Event.seq) <= last))
    tx.session.execute(
        update(EventCounter).where(col(EventCounter.id) == 1).values(purged_through=last)
    )
    return deleted


def unacked_offers(tx: Tx, *, principal: Principal, through: int) -> list[EventMessage]:
    """A responder's offers still open whose event its consoles never acknowledged."""
    if principal.role != Role.responder:
        return []
    acked = tx.session.execute(
        select(col(ApiToken.acked_seq)).where(col(ApiToken.id) == principal.token_id)
    ).scalar_one()
    query = (
        _MESSAGE.join(Assignment, col(Assignment.id) == col(Event.assignment_id))
        .where(
            col(Event.responder_id) == principal.responder_id,
            col(Event.type) == "assignment.offered",
            col(Event.seq) > acked,
            col(Event.seq) <= through,
            col(Assignment.state) == AssignmentState.offered,
        )
        .order_by(col(Event.seq))
    )
    return _messages(tx.session.execute(query))


_RECORD_ACK = Prepared(
    update(ApiToken)
    .where(col(ApiToken.id) == bindparam("token"), col(ApiToken.acked_seq) < bindparam("seq"))
    .values(acked_seq=bindparam("seq"))
)


def record_acks(tx: Tx, *, acks: Mapping[uuid.UUID, int]) -> None:
    """Remember the last seq each token's consoles acknowledged (never backwards), for
    many tokens in one statement. One console's ack cannot lose another's (the socket
    bounds a seq, `models.console.MAX_SEQ`, and this holds whatever fails): if the
    statement fails, each token's ack is written alone, in a savepoint of its own, and
    only the one that fails is lost."""
    rows = [{"token": token, "seq": seq} for token, seq in acks.items()]
    if not rows:
        return
    # Savepoints on the connection itself: the session's are begun only when it is
    # next asked for its connection, which `Tx` holds already.
    try:
        with tx.connection().begin_nested():
            tx.run_many(_RECORD_ACK, rows)
        return
    except Exception as exc:
        log.warning("acks_written_one_by_one", count=len(rows), error=say(exc))
    for row in rows:
        try:
            with tx.connection().begin_nested():
                tx.run(_RECORD_ACK, row)
        except Exception:
            log.exception("ack_not_stored", token_id=str(row["token"]), seq=row["seq"])


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a (re)connecting console is owed before live events, from one snapshot."""

    head: int
    unacked: list[EventMessage]  # open offers never acknowledged, at or before the resume point
    missed: list[EventMessage]  # everything after the resume point
    resync: bool  # the resume point is past retention or too far back: re-read over HTTP


def catch_up(tx: Tx, *, principal: Principal, resume_after: int | None, max_replay: int) -> CatchUp:
    head = head_seq(tx)
    through = head if resume_after is None else min(resume_after, head)
    unacked = unacked_offers(tx, principal=principal, through=through)
    if resume_after is None or resume_after >= head:
        return CatchUp(head=head, unacked=unacked, missed=[], resync=False)
    if resume_after < purged_through(tx):
        return CatchUp(head=head, unacked=unacked, missed=[], resync=True)
    missed = events_after(tx, principal=principal, after=resume_after, limit=max_replay + 1)
    if len(missed) > max_replay:
        return CatchUp(head=head, unacked=unacked, missed=[], resync=True)
    return CatchUp(head=head, unacked=unacked, missed=missed, resync=False)
