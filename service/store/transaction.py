"""A transaction as the service functions see it: its session, its time, the events it
records (sealed with their seqs before the commit), and who it is done for."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, CursorResult, Executable, bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from models.columns import utcnow
from models.event import Event, EventCounter, EventMessage
from service.store.prepared import Prepared, Rows


class Witness(Protocol):
    """Who a write is done for (the audit trail's `Actor`): its record is written in
    the write's own transaction, so no change commits without it, and it is marked
    `recorded` once that commits."""

    recorded: bool

    def witness(self, tx: "Tx") -> None: ...


class Tx:
    """A session, the time of the transaction, and the events it records."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.now: datetime = utcnow()
        self._events: list[dict[str, Any]] = []
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        """The transaction's connection (asking the session costs 30 µs a time)."""
        if self._connection is None:
            self._connection = self.session.connection()
        return self._connection

    def record(
        self,
        type: str,
        *,
        agency_id: uuid.UUID,
        data: dict[str, Any],
        call_id: uuid.UUID | None = None,
        responder_id: uuid.UUID | None = None,
        assignment_id: uuid.UUID | None = None,
    ) -> None:
        """Append an event; it gets its seq and is written when the transaction commits."""
        self._events.append(
            {
                "seq": 0,
                "agency_id": agency_id,
                "at": self.now,
                "type": type,
                "call_id": call_id,
                "responder_id": responder_id,
                "assignment_id": assignment_id,
                "data": data,
            }
        )

    def first_target(self) -> str | None:
        """What the first recorded event concerns, as `call:<id>` (for the audit trail)."""
        for event in self._events:
            for kind in ("call", "responder", "assignment"):
                if event[f"{kind}_id"] is not None:
                    return f"{kind}:{event[f'{kind}_id']}"
        return None

    def run(self, statement: Prepared, params: Mapping[str, Any]) -> Rows:
        """Run a prepared statement in the transaction, after flushing what the session
        holds (as the ORM's autoflush would), without the ORM's or Core's per-statement
        machinery (service/store/prepared.py). Objects do not see the change; `loaded_now`
        says it."""
        return statement.run(self._flushed(), params)

    def run_many(self, statement: Prepared, params: Sequence[Mapping[str, Any]]) -> None:
        """`run` once for each parameter set, as one executemany."""
        statement.run_many(self._flushed(), params)

    def _flushed(self) -> Connection:
        if self.session.new or self.session.dirty:
            self.session.flush()
        return self.connection()

    def loaded_now(self, entity: type[Any], key: Any, *, held: Any = None, **values: Any) -> None:
        """Bring `entity` `key` up to date with `values` that a `run` statement wrote,
        without marking it changed: the object the caller `held` (one read by a prepared
        statement is not the session's), and the one this transaction loaded, if any."""
        loaded = self.session.identity_map.get(self.session.identity_key(entity, key))
        for each in (held, loaded):
            if each is not None:
                for name, value in values.items():
                    set_committed_value(each, name, value)

    def changed(self, statement: Executable) -> int:
        """Run an UPDATE or DELETE; how many rows it changed (the conditional-update check)."""
        result = self.session.execute(statement)
        return int(cast(CursorResult[Any], result).rowcount)

    def seal(self) -> list[EventMessage]:
        """Number the recorded events and write them.

        One UPDATE of the counter row takes all the seqs at once, as late as
        possible, so the row lock that orders commits is held only briefly; the
        events go in as one Core INSERT (the ORM's flush cost more than the rest).
        """
        if not self._events:
            return []
        last = self.run(_TAKE_SEQS, {"count": len(self._events)}).scalar_one()
        first = last - len(self._events) + 1
        for offset, event in enumerate(self._events):
            event["seq"] = first + offset
        self.run_many(_INSERT_EVENTS, self._events)
        messages = [EventMessage(**e) for e in self._events]
        self._events = []
        return messages


_INSERT_EVENTS = Prepared(insert(Event))
_TAKE_SEQS = Prepared(
    update(EventCounter)
    .where(col(EventCounter.id) == 1)
    .values(last_seq=col(EventCounter.last_seq) + bindparam("count"))
    .returning(col(EventCounter.last_seq))
)
