"""The check-in timer (`pass_checkin_deadlines`, registered by the app on the deadline
loop): every tick, for every agency with check-ins on,

1. ends the live check-ins of assignments no longer on scene (cleared, cancelled), and of
   agencies that turned check-ins off;
2. schedules one for each assignment on scene that has none: due an interval after it
   arrived or after its last check-in (or missed one);
3. prompts those due (`checkin.due`);
4. raises the alarm for those prompted and still not done at `grace_until`
   (`checkin.missed`), and applies the agency's rule (`checkin.escalated`).

Assignments do not tell check-ins that they went on scene (they sit below); step 2 reads
it from their rows. Each step acts on a row by a conditional update, so of several
replicas exactly one prompts, alarms or escalates; the rows are the deadlines, so a
restart picks them up.
"""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlmodel import col

from dispatch.config import DispatchConfig
from models.agency import Agency
from models.call import Assignment
from models.checkin import LIVE_STATES, Checkin
from models.vocabulary import AssignmentState
from service.checkins.backup import offer_backup
from service.checkins.views import alarm_data, checkin_data, record_checkin_event
from service.store.prepared import Prepared
from service.store.transaction import Tx


def pass_checkin_deadlines(
    tx: Tx, *, config: DispatchConfig, limit: int, prepared: Any = None
) -> int:
    """One tick of the timer (see the module); how many check-ins it moved.

    Its reads are prepared statements: a tick with nothing to do runs every second on
    every replica, and through the ORM its four reads cost 1.5-2 ms of the write turn
    (on SQLite, of the event loop) where prepared they cost a fraction."""
    statements = _statements(limit)
    handled = _end_stale(tx, statements)
    handled += _schedule(tx, statements)
    handled += _prompt(tx, statements)
    handled += _miss(tx, statements, config=config)
    return handled


@dataclass(frozen=True)
class _Statements:
    stale: Prepared
    unscheduled: Prepared
    due: Prepared
    past_grace: Prepared


@functools.lru_cache(maxsize=8)
def _statements(limit: int) -> _Statements:
    """The tick's reads for batches of `limit`, built once."""
    live = col(Checkin.state).in_(LIVE_STATES)
    stale = (
        select(col(Checkin.id))
        .join(Assignment, col(Assignment.id) == col(Checkin.assignment_id))
        .join(Agency, col(Agency.id) == col(Checkin.agency_id))
        .where(
            live,
            or_(
                col(Assignment.state) != AssignmentState.on_scene,
                col(Agency.checkin_interval_s) == 0,
            ),
        )
        .limit(limit)
    )
    timer = exists().where(col(Checkin.assignment_id) == col(Assignment.id), live)
    last = (
        select(func.max(func.coalesce(col(Checkin.done_at), col(Checkin.missed_at))))
        .where(col(Checkin.assignment_id) == col(Assignment.id))
        .scalar_subquery()
    )
    unscheduled = (
        select(
            col(Assignment.id),
            col(Assignment.agency_id),
            col(Assignment.call_id),
            col(Assignment.responder_id),
            col(Assignment.on_scene_at),
            col(Agency.checkin_interval_s),
            col(Agency.checkin_grace_s),
            last.label("last"),
        )
        .join(Agency, col(Agency.id) == col(Assignment.agency_id))
        .where(
            col(Assignment.state) == AssignmentState.on_scene,
            col(Agency.checkin_interval_s) > 0,
            ~timer,
        )
        .limit(limit)
    )
    due = (
        select(col(Checkin.id))
        .where(col(Checkin.state) == "scheduled", col(Checkin.due_at) <= bindparam("now"))
        .order_by(col(Checkin.due_at))
        .limit(limit)
    )
    past_grace = (
        select(col(Checkin.id), col(Agency.checkin_missed_rule))
        .join(Agency, col(Agency.id) == col(Checkin.agency_id))
        .where(col(Checkin.state) == "due", col(Checkin.grace_until) <= bindparam("now"))
        .order_by(col(Checkin.grace_until))
        .limit(limit)
    )
    return _Statements(
        stale=Prepared(stale),
        unscheduled=Prepared(unscheduled),
        due=Prepared(due),
        past_grace=Prepared(past_grace),
    )


def _end_stale(tx: Tx, statements: _Statements) -> int:
    ended = 0
    for checkin_id in tx.run(statements.stale, {}).scalars():
        ended += _move(tx, checkin_id, LIVE_STATES, state="ended", ended_at=tx.now)
    return ended


def _schedule(tx: Tx, statements: _Statements) -> int:
    rows = tx.run(statements.unscheduled, {}).all()
    for row in rows:
        since = _latest(row.on_scene_at or tx.now, row.last)
        due = since + timedelta(seconds=row.checkin_interval_s)
        tx.session.add(
            Checkin(
                agency_id=row.agency_id,
                assignment_id=row.id,
                responder_id=row.responder_id,
                call_id=row.call_id,
                state="scheduled",
                due_at=due,
                grace_until=due + timedelta(seconds=row.checkin_grace_s),
            )
        )
    if rows:
        tx.session.flush()
    return len(rows)


def _latest(on_scene_at: datetime, last: datetime | str | None) -> datetime:
    if last is None:
        return on_scene_at
    if isinstance(last, str):  # SQLite's MAX of a timestamp column comes back as text
        moment = datetime.fromisoformat(last)
        last = moment if moment.tzinfo else moment.replace(tzinfo=on_scene_at.tzinfo)
    return max(on_scene_at, last)


def _prompt(tx: Tx, statements: _Statements) -> int:
    prompted = 0
    for checkin_id in tx.run(statements.due, {"now": tx.now}).scalars():
        if not _move(tx, checkin_id, ("scheduled",), state="due", prompted_at=tx.now):
            continue  # another replica prompted it
        row = _fresh(tx, checkin_id)
        data = {"checkin": checkin_data(row)}
        record_checkin_event(tx, "checkin.due", row, data, to_responder=True)
        prompted += 1
    return prompted


def _miss(tx: Tx, statements: _Statements, *, config: DispatchConfig) -> int:
    missed = 0
    for checkin_id, rule in tx.run(statements.past_grace, {"now": tx.now}).all():
        if not _move(tx, checkin_id, ("due",), state="missed", missed_at=tx.now, rule=rule):
            continue  # checked in, or alarmed by another replica, meanwhile
        row = _fresh(tx, checkin_id)
        record_checkin_event(tx, "checkin.missed", row, alarm_data(tx, row), to_responder=False)
        backup = offer_backup(tx, call_id=row.call_id, config=config) if rule == "backup" else []
        row.backup = [str(b) for b in backup]
        tx.session.flush()
        record_checkin_event(
            tx,
            "checkin.escalated",
            row,
            {"checkin": checkin_data(row), "rule": rule, "backup": row.backup},
            to_responder=False,
        )
        missed += 1
    return missed


def _move(tx: Tx, checkin_id: uuid.UUID, from_states: Sequence[str], **values: Any) -> int:
    """The conditional update that decides who acts on a check-in: 1 if this one does."""
    return tx.changed(
        update(Checkin)
        .where(col(Checkin.id) == checkin_id, col(Checkin.state).in_(list(from_states)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _fresh(tx: Tx, checkin_id: uuid.UUID) -> Checkin:
    row = tx.session.get(Checkin, checkin_id, populate_existing=True)
    assert row is not None
    return row
