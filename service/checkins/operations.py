"""What the routes and the socket ask of check-ins, with who may ask it."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import col

from models.agency import Agency, Principal
from models.checkin import LIVE_STATES, Checkin, CheckinAlarm, CheckinDone, CheckinPublic
from models.vocabulary import AssignmentState, Role
from service.assignments.operations import get_assignment
from service.checkins.views import alarm_data, checkin_data, label_of, record_checkin_event
from service.errors import Conflict, NotFound
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role


def check_in(tx: Tx, *, principal: Principal, assignment_id: uuid.UUID) -> CheckinDone:
    """The responder on scene is safe: its prompt (or the timer not yet due) is done, and
    the next check-in is due an interval from now. Its own responder checks in, or
    staff for a responder reached by radio; another responder's assignment is not
    found. Conflict unless the assignment is on scene.

    A check-in while a missed one is unanswered is late: it is recorded on the missed
    one (`done_at`, `by`; the answer and `checkin.done` carry it, its alarm stays until
    acknowledged), and the next check-in the timer scheduled from the miss is moved to
    an interval from now rather than answered early. One already prompted is answered."""
    assignment = get_assignment(tx, principal=principal, assignment_id=assignment_id)
    if principal.role != Role.responder:
        require_role(principal, STAFF, "check in for a responder")
    if assignment.state != AssignmentState.on_scene:
        raise Conflict(f"assignment is {assignment.state}; only an assignment on scene checks in")
    agency = tx.session.get(Agency, assignment.agency_id)
    assert agency is not None
    by = label_of(tx, principal)
    answered = _answer_missed(tx, assignment_id=assignment_id, by=by)
    live = _live(tx, assignment_id=assignment_id)
    next_due = None
    if agency.checkin_interval_s > 0:
        next_due = tx.now + timedelta(seconds=agency.checkin_interval_s)
    grace = timedelta(seconds=agency.checkin_grace_s)
    # Scheduled from the miss, the next check-in counts from this late answer instead.
    moved = (
        live is not None
        and live.state == "scheduled"
        and bool(answered)
        and next_due is not None
        and _reschedule(tx, live, due_at=next_due, grace_until=next_due + grace)
    )
    if live is not None and not moved and _answer_live(tx, live, by=by):
        answered.append(live)
    if not answered:  # checked in before the timer scheduled one: a check-in of its own
        own = Checkin(
            agency_id=assignment.agency_id,
            assignment_id=assignment.id,
            responder_id=assignment.responder_id,
            call_id=assignment.call_id,
            state="done",
            due_at=tx.now,
            grace_until=tx.now,
            done_at=tx.now,
            done_by=by,
        )
        tx.session.add(own)
        answered.append(own)
    if next_due is not None and not moved:
        tx.session.add(
            Checkin(
                agency_id=assignment.agency_id,
                assignment_id=assignment.id,
                responder_id=assignment.responder_id,
                call_id=assignment.call_id,
                state="scheduled",
                due_at=next_due,
                grace_until=next_due + grace,
            )
        )
    tx.session.flush()
    for row in answered:
        record_checkin_event(
            tx, "checkin.done", row, {"checkin": checkin_data(row)}, to_responder=True
        )
    return CheckinDone(checkin=CheckinPublic.of(answered[0]), next_due_at=next_due)


def _answer_missed(tx: Tx, *, assignment_id: uuid.UUID, by: str) -> list[Checkin]:
    """Record a late answer on the assignment's missed check-ins not yet answered, the
    latest first: one "I'm OK" answers every alarm still open, so that a later check-in
    is not taken for a late answer to an older one."""
    rows = list(
        tx.session.execute(
            select(Checkin)
            .where(
                col(Checkin.assignment_id) == assignment_id,
                col(Checkin.state) == "missed",
                col(Checkin.done_at).is_(None),
            )
            .order_by(col(Checkin.missed_at).desc())
        ).scalars()
    )
    for row in rows:
        row.done_at, row.done_by = tx.now, by
    return rows


def _live(tx: Tx, *, assignment_id: uuid.UUID) -> Checkin | None:
    """The assignment's one live check-in (scheduled or due), if it has one."""
    return tx.session.execute(
        select(Checkin).where(
            col(Checkin.assignment_id) == assignment_id, col(Checkin.state).in_(LIVE_STATES)
        )
    ).scalar_one_or_none()


def _answer_live(tx: Tx, live: Checkin, *, by: str) -> bool:
    """Mark the live check-in done; False if the timer alarmed or ended it meanwhile
    (the conditional update decides, as in the timer's steps)."""
    return _change(tx, live, LIVE_STATES, state="done", done_at=tx.now, done_by=by)


def _reschedule(tx: Tx, live: Checkin, *, due_at: datetime, grace_until: datetime) -> bool:
    """Move a scheduled check-in's deadlines; False if the timer prompted it meanwhile."""
    return _change(tx, live, ("scheduled",), due_at=due_at, grace_until=grace_until)


def _change(tx: Tx, row: Checkin, from_states: Sequence[str], **values: Any) -> bool:
    changed = tx.changed(
        update(Checkin)
        .where(col(Checkin.id) == row.id, col(Checkin.state).in_(list(from_states)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    tx.session.refresh(row)
    return changed == 1


def open_checkins(tx: Tx, *, principal: Principal) -> list[CheckinAlarm]:
    """The agency's missed check-ins not yet acknowledged, and the prompts due now,
    newest first: what a dispatcher's page shows again after a reload. A responder
    gets its own prompts due now (a reloaded phone shows its button again), no alarm."""
    open_now = or_(
        col(Checkin.state) == "due",
        (col(Checkin.missed_at).is_not(None) & col(Checkin.acknowledged_at).is_(None)),
    )
    if principal.role == Role.responder:
        open_now = (col(Checkin.state) == "due") & (
            col(Checkin.responder_id) == principal.responder_id
        )
    else:
        require_role(principal, STAFF, "read check-ins")
    rows = tx.session.execute(
        select(Checkin)
        .where(col(Checkin.agency_id) == principal.agency_id, open_now)
        .order_by(col(Checkin.due_at).desc())
        .limit(500)
    ).scalars()
    return [CheckinAlarm.model_validate(alarm_data(tx, row)) for row in rows]


def acknowledge(tx: Tx, *, principal: Principal, checkin_id: uuid.UUID) -> CheckinPublic:
    """A dispatcher has seen the missed check-in: its alarm closes on every console.
    Acknowledging one already acknowledged answers it unchanged; one not missed is a
    Conflict."""
    require_role(principal, STAFF, "acknowledge a missed check-in")
    row = tx.session.get(Checkin, checkin_id)
    if row is None or row.agency_id != principal.agency_id:
        raise NotFound(f"no check-in {checkin_id} in this agency")
    if row.missed_at is None:
        raise Conflict(f"check-in {checkin_id} is {row.state}, not missed: no alarm to acknowledge")
    if row.acknowledged_at is not None:
        return CheckinPublic.of(row)
    by = label_of(tx, principal)
    won = tx.changed(
        update(Checkin)
        .where(col(Checkin.id) == checkin_id, col(Checkin.acknowledged_at).is_(None))
        .values(acknowledged_at=tx.now, acknowledged_by=by)
        .execution_options(synchronize_session=False)
    )
    row = tx.session.get(Checkin, checkin_id, populate_existing=True)
    assert row is not None
    if won == 1:
        record_checkin_event(
            tx,
            "checkin.acknowledged",
            row,
            {
                "checkin": checkin_data(row),
                "acknowledged_by": by,
                "acknowledged_at": checkin_data(row)["acknowledged_at"],
            },
            to_responder=False,
        )
    return CheckinPublic.of(row)
