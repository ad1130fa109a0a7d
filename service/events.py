"""Reading the event log: the head, and what a console missed."""

from sqlalchemy import select
from sqlmodel import col

from models.agency import Principal
from models.event import Event, EventCounter, EventMessage
from models.vocabulary import Role
from service.unit_of_work import Tx


def head_seq(tx: Tx) -> int:
    """The last seq handed out (committed, since the counter commits with its events)."""
    return int(
        tx.session.execute(
            select(col(EventCounter.last_seq)).where(col(EventCounter.id) == 1)
        ).scalar_one()
    )


def events_after(tx: Tx, *, principal: Principal, after: int, limit: int) -> list[EventMessage]:
    """The events after seq `after` that `principal` may see, oldest first."""
    query = (
        select(Event)
        .where(col(Event.agency_id) == principal.agency_id, col(Event.seq) > after)
        .order_by(col(Event.seq))
        .limit(limit)
    )
    if principal.role == Role.responder:
        query = query.where(col(Event.responder_id) == principal.responder_id)
    return [EventMessage.of(e) for e in tx.session.execute(query).scalars()]
