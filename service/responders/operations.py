"""Responders: registration, position, availability, and the board."""

import uuid

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from dispatch.config import DispatchConfig
from models.agency import Principal
from models.report import DutyPeriod
from models.responder import PositionUpdate, Responder, ResponderCreate, ResponderPublic
from models.vocabulary import (
    SETTABLE_RESPONDER_STATUSES,
    ResponderStatus,
    Role,
)
from service.dispatching.waiting import replan_waiting
from service.emergencies.positions import place
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.rules.programmes import kinds_of
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role


def create_responder(tx: Tx, *, principal: Principal, body: ResponderCreate) -> ResponderPublic:
    require_role(principal, STAFF, "register responders")
    kinds = kinds_of(tx, principal.agency_id)
    if body.kind not in kinds:
        raise Invalid(
            f"kind: {body.kind!r} is not a kind of responder in this agency; known: "
            f"{', '.join(sorted(kinds))} (an agency declares more under `kinds:` in its "
            "programme, PUT /v1/rules)"
        )
    responder = Responder(
        agency_id=principal.agency_id, status=ResponderStatus.off_duty, **body.model_dump()
    )
    tx.session.add(responder)
    try:
        tx.session.flush()
    except IntegrityError:
        raise Conflict(
            f"a responder with external_id {body.external_id!r} already exists in this agency"
        ) from None
    public = ResponderPublic.of(responder)
    tx.record(
        "responder.created",
        agency_id=principal.agency_id,
        responder_id=responder.id,
        data=public.model_dump(mode="json"),
    )
    return public


def get_responder(tx: Tx, *, principal: Principal, responder_id: uuid.UUID) -> Responder:
    """The responder, if `principal` may see it; otherwise NotFound, as if absent."""
    responder = tx.session.get(Responder, responder_id)
    visible = responder is not None and responder.agency_id == principal.agency_id
    if visible and principal.role == Role.responder:
        visible = principal.responder_id == responder_id
    if responder is None or not visible:
        raise NotFound(f"no responder {responder_id} in this agency")
    return responder


def _require_self_or(
    principal: Principal, responder_id: uuid.UUID, allowed: frozenset[Role], action: str
) -> None:
    if principal.role == Role.responder and principal.responder_id == responder_id:
        return
    require_role(principal, allowed, action)


def set_position(
    tx: Tx,
    *,
    principal: Principal,
    responder_id: uuid.UUID,
    body: PositionUpdate,
    config: DispatchConfig,
) -> ResponderPublic:
    """Move a responder; its search cell follows. CAD (AVL feeds) may set it too.

    A responder available before its first position is offered to the waiting call that
    needs it most as that position comes, so the answer may already show it `offered`.
    """
    responder = get_responder(tx, principal=principal, responder_id=responder_id)
    _require_self_or(principal, responder_id, STAFF | {Role.cad}, "move responders")
    place(tx, responder, body.lat, body.lon, config=config)
    return ResponderPublic.of(responder)


def set_status(
    tx: Tx,
    *,
    principal: Principal,
    responder_id: uuid.UUID,
    status: ResponderStatus,
    config: DispatchConfig,
) -> ResponderPublic:
    """Go available, off duty or out of service. The busy statuses follow assignments.

    A responder who becomes available is offered at once to the waiting call that
    needs it most, so the answer may already show it `offered`.
    """
    responder = get_responder(tx, principal=principal, responder_id=responder_id)
    _require_self_or(principal, responder_id, STAFF, "change other responders' status")
    if status not in SETTABLE_RESPONDER_STATUSES:
        allowed = ", ".join(sorted(s.value for s in SETTABLE_RESPONDER_STATUSES))
        raise Invalid(f"status {status.value!r} follows from assignments; set one of {allowed}")
    if responder.status not in SETTABLE_RESPONDER_STATUSES:
        raise Conflict(
            f"responder is {responder.status} on a call; decline or clear the assignment first"
        )
    previous = responder.status
    if previous == status:
        return ResponderPublic.of(responder)
    responder.status, responder.status_changed_at = status, tx.now
    tx.session.flush()
    _note_duty(tx, responder, previous)
    tx.record(
        "responder.status_changed",
        agency_id=principal.agency_id,
        responder_id=responder.id,
        data={"responder_id": str(responder.id), "status": status.value, "previous": previous},
    )
    if status == ResponderStatus.available:
        replan_waiting(tx, agency_id=principal.agency_id, config=config)
    return ResponderPublic.of(responder)


def _note_duty(tx: Tx, responder: Responder, previous: ResponderStatus) -> None:
    """Open or close the responder's on-duty period, which the outcome report's
    utilisation reads (the event log is purged; a year's figures must not need it)."""
    if previous == ResponderStatus.off_duty:
        tx.session.execute(
            insert(DutyPeriod).values(
                id=uuid.uuid4(),
                agency_id=responder.agency_id,
                responder_id=responder.id,
                started_at=tx.now,
            )
        )
    elif responder.status == ResponderStatus.off_duty:
        tx.session.execute(
            update(DutyPeriod)
            .where(col(DutyPeriod.responder_id) == responder.id, col(DutyPeriod.ended_at).is_(None))
            .values(ended_at=tx.now)
        )


def list_responders(
    tx: Tx,
    *,
    principal: Principal,
    kind: str | None,
    status: ResponderStatus | None,
    limit: int,
    offset: int,
) -> list[ResponderPublic]:
    if principal.role == Role.responder:
        raise Forbidden("a responder token reads only its own record: GET /v1/responders/{id}")
    query = select(Responder).where(col(Responder.agency_id) == principal.agency_id)
    if kind is not None:
        query = query.where(col(Responder.kind) == kind)
    if status is not None:
        query = query.where(col(Responder.status) == status)
    query = query.order_by(col(Responder.name), col(Responder.id)).limit(limit).offset(offset)
    return [ResponderPublic.of(r) for r in tx.session.execute(query).scalars()]
