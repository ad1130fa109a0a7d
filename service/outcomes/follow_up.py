"""Follow-up after a call: a task with a due time, offered to the agency's clinicians
and peers on duty (nearest the call first), claimed by one of them or from the queue,
and completed with an outcome. Overdue tasks are those due and not completed."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import col

from dispatch.travel import Point, haversine_m
from models.agency import Principal
from models.call import Call
from models.outcome import CallOutcome, FollowUp, FollowUpPublic
from models.responder import Responder
from models.vocabulary import FollowUpOutcome, FollowUpState, ResponderKind, ResponderStatus, Role
from service.errors import Conflict, Forbidden, NotFound
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role

CARERS = frozenset({ResponderKind.clinician, ResponderKind.peer})  # who follows up
OFFERED_TO = 10  # the nearest this many clinicians and peers on duty hear of a new task
_OFF = (ResponderStatus.off_duty, ResponderStatus.out_of_service)


def open_follow_up(tx: Tx, *, outcome: CallOutcome, within_h: int, at: datetime) -> FollowUp:
    """Open the call's task, due `within_h` hours after `at`; a call has one task, so
    asking again moves the due time of one not yet completed."""
    due = at + timedelta(hours=within_h)
    task = tx.session.execute(
        select(FollowUp).where(col(FollowUp.call_id) == outcome.call_id)
    ).scalar_one_or_none()
    if task is not None:
        if task.state == FollowUpState.completed:
            raise Conflict("the call's follow-up is completed already")
        task.due_at = due
        tx.session.flush()
        _record(tx, "follow_up.due_changed", task)
        return task
    task = FollowUp(
        agency_id=outcome.agency_id,
        call_id=outcome.call_id,
        state=FollowUpState.open,
        opened_at=tx.now,
        due_at=due,
    )
    tx.session.add(task)
    tx.session.flush()
    _record(tx, "follow_up.opened", task)
    for responder_id in _carers_near(tx, task):
        _record(tx, "follow_up.offered", task, responder_id=responder_id)
    return task


def _carers_near(tx: Tx, task: FollowUp) -> list[uuid.UUID]:
    call = tx.session.get(Call, task.call_id)
    assert call is not None
    carers = tx.session.execute(
        select(col(Responder.id), col(Responder.lat), col(Responder.lon)).where(
            col(Responder.agency_id) == task.agency_id,
            col(Responder.kind).in_(list(CARERS)),
            col(Responder.status).not_in(list(_OFF)),
        )
    ).all()
    here = Point(call.lat, call.lon)

    def distance(row: tuple[uuid.UUID, float | None, float | None]) -> float:
        _, lat, lon = row
        return float("inf") if lat is None or lon is None else haversine_m(here, Point(lat, lon))

    return [row[0] for row in sorted(carers, key=distance)[:OFFERED_TO]]


def _record(tx: Tx, type: str, task: FollowUp, *, responder_id: uuid.UUID | None = None) -> None:
    # No category, no narrative: a follow-up says which call and when, never why.
    tx.record(
        type,
        agency_id=task.agency_id,
        call_id=task.call_id,
        responder_id=responder_id or task.responder_id,
        data=public(task, tx.now).model_dump(mode="json"),
    )


def public(task: FollowUp, now: datetime) -> FollowUpPublic:
    return FollowUpPublic(
        id=task.id,
        call_id=task.call_id,
        state=task.state,
        opened_at=task.opened_at,
        due_at=task.due_at,
        overdue=task.state != FollowUpState.completed and task.due_at <= now,
        responder_id=task.responder_id,
        claimed_at=task.claimed_at,
        completed_at=task.completed_at,
        outcome=task.outcome,
    )


def _carer(tx: Tx, principal: Principal) -> Responder:
    """The responder behind a responder token, if it is a clinician or a peer."""
    responder = tx.session.get(Responder, principal.responder_id)
    if responder is None or responder.kind not in CARERS:
        raise Forbidden("follow-up is for clinicians and peers (and staff)")
    return responder


def _may_work(tx: Tx, principal: Principal) -> None:
    if principal.role == Role.responder:
        _carer(tx, principal)
    else:
        require_role(principal, STAFF, "work follow-up tasks")


def get_task(tx: Tx, *, principal: Principal, follow_up_id: uuid.UUID) -> FollowUp:
    _may_work(tx, principal)
    task = tx.session.get(FollowUp, follow_up_id)
    visible = task is not None and task.agency_id == principal.agency_id
    if visible and task is not None and principal.role == Role.responder:
        visible = task.responder_id in (None, principal.responder_id)
    if task is None or not visible:
        raise NotFound(f"no follow-up {follow_up_id} in this agency")
    return task


def list_tasks(
    tx: Tx,
    *,
    principal: Principal,
    state: FollowUpState | None,
    overdue: bool,
    limit: int,
    offset: int,
) -> list[FollowUpPublic]:
    """The agency's tasks, soonest due first; a clinician or peer sees the queue (open
    tasks) and its own."""
    _may_work(tx, principal)
    query = select(FollowUp).where(col(FollowUp.agency_id) == principal.agency_id)
    if principal.role == Role.responder:
        query = query.where(
            (col(FollowUp.state) == FollowUpState.open)
            | (col(FollowUp.responder_id) == principal.responder_id)
        )
    if state is not None:
        query = query.where(col(FollowUp.state) == state)
    if overdue:
        query = query.where(
            col(FollowUp.state) != FollowUpState.completed, col(FollowUp.due_at) <= tx.now
        )
    query = query.order_by(col(FollowUp.due_at), col(FollowUp.id)).limit(limit).offset(offset)
    return [public(t, tx.now) for t in tx.session.execute(query).scalars()]


def read_task(tx: Tx, *, principal: Principal, follow_up_id: uuid.UUID) -> FollowUpPublic:
    return public(get_task(tx, principal=principal, follow_up_id=follow_up_id), tx.now)


def claim(
    tx: Tx, *, principal: Principal, follow_up_id: uuid.UUID, responder_id: uuid.UUID | None
) -> FollowUpPublic:
    """A clinician or peer takes an open task for itself; staff hand it to one
    (`responder_id`). Of two claiming at once, one gets it and the other a 409."""
    task = get_task(tx, principal=principal, follow_up_id=follow_up_id)
    if principal.role == Role.responder:
        responder_id = principal.responder_id
    elif responder_id is None:
        raise Forbidden("staff hand a task to a clinician or peer: give responder_id")
    taker = tx.session.get(Responder, responder_id)
    if taker is None or taker.agency_id != task.agency_id or taker.kind not in CARERS:
        raise NotFound(f"no clinician or peer {responder_id} in this agency")
    taken = tx.changed(
        update(FollowUp)
        .where(col(FollowUp.id) == task.id, col(FollowUp.state) == FollowUpState.open)
        .values(state=FollowUpState.claimed, responder_id=taker.id, claimed_at=tx.now)
    )
    if taken != 1:
        raise Conflict(f"follow-up is {task.state} already")
    tx.session.refresh(task)
    _record(tx, "follow_up.claimed", task)
    return public(task, tx.now)


def complete(
    tx: Tx, *, principal: Principal, follow_up_id: uuid.UUID, outcome: FollowUpOutcome
) -> FollowUpPublic:
    """Close the task with what came of it; by whoever holds it, or staff."""
    task = get_task(tx, principal=principal, follow_up_id=follow_up_id)
    if task.state == FollowUpState.completed:
        raise Conflict("follow-up is completed already")
    if principal.role == Role.responder and task.responder_id != principal.responder_id:
        raise Conflict("claim the task before completing it")
    task.state, task.completed_at, task.outcome = FollowUpState.completed, tx.now, outcome
    tx.session.flush()
    _record(tx, "follow_up.completed", task)
    return public(task, tx.now)
