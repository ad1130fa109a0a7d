"""What the routes and the socket ask of check-ins, with who may ask it."""

import uuid
from datetime import timedelta

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
    found. Conflict unless the assignment is on scene. A late check-in, after the
    alarm, is recorded on the missed one (the alarm stays until acknowledged)."""
    assignment = get_assignment(tx, principal=principal, assignment_id=assignment_id)
    if principal.role != Role.responder:
        require_role(principal, STAFF, "check in for a responder")
    if assignment.state != AssignmentState.on_scene:
        raise Conflict(f"assignment is {assignment.state}; only an assignment on scene checks in")
    by = label_of(tx, principal)
    row = _answer_open(tx, assignment_id=assignment_id, by=by)
    if row is None:  # checked in before the timer scheduled one: a check-in of its own
        row = Checkin(
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
        tx.session.add(row)
    agency = tx.session.get(Agency, assignment.agency_id)
    assert agency is not None
    next_due = None
    if agency.checkin_interval_s > 0:
        next_due = tx.now + timedelta(seconds=agency.checkin_interval_s)
        tx.session.add(
            Checkin(
                agency_id=assignment.agency_id,
                assignment_id=assignment.id,
                responder_id=assignment.responder_id,
                call_id=assignment.call_id,
                state="scheduled",
                due_at=next_due,
                grace_until=next_due + timedelta(seconds=agency.checkin_grace_s),
            )
        )
    tx.session.flush()
    record_checkin_event(tx, "checkin.done", row, {"checkin": checkin_data(row)}, to_responder=True)
    return CheckinDone(checkin=CheckinPublic.of(row), next_due_at=next_due)


def _answer_open(tx: Tx, *, assignment_id: uuid.UUID, by: str) -> Checkin | None:
    """Mark the assignment's live check-in done (or its last missed one, answered late);
    None if it has neither."""
    live = tx.session.execute(
        select(col(Checkin.id)).where(
            col(Checkin.assignment_id) == assignment_id, col(Checkin.state).in_(LIVE_STATES)
        )
    ).scalar_one_or_none()
    if live is not None:
        done = tx.changed(
            update(Checkin)
            .where(col(Checkin.id) == live, col(Checkin.state).in_(LIVE_STATES))
            .values(state="done", done_at=tx.now, done_by=by)
            .execution_options(synchronize_session=False)
        )
        if done == 1:
            return tx.session.get(Checkin, live, populate_existing=True)
    late = tx.session.execute(
        select(Checkin)
        .where(
            col(Checkin.assignment_id) == assignment_id,
            col(Checkin.state) == "missed",
            col(Checkin.done_at).is_(None),
        )
        .order_by(col(Checkin.missed_at).desc())
        .limit(1)
    ).scalar_one_or_none()
    if late is not None:
        late.done_at, late.done_by = tx.now, by
    return late


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
