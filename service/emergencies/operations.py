"""Emergencies read, listed and closed (raising is `emergencies.raising`). One
transaction each; who may do what is checked here."""

import uuid

from sqlalchemy import select
from sqlmodel import col

from models.agency import Agency, ApiToken, Principal
from models.emergency import Emergency, EmergencyPublic, EmergencyResponder
from models.responder import Position, Responder
from models.vocabulary import Role
from service.errors import NotFound
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role


def open_of(tx: Tx, responder_id: uuid.UUID) -> Emergency | None:
    return tx.session.execute(
        select(Emergency).where(
            col(Emergency.responder_id) == responder_id, col(Emergency.closed_at).is_(None)
        )
    ).scalar_one_or_none()


def who(tx: Tx, principal: Principal) -> str:
    """A principal as the record names it: its role and its token's label, if it has one."""
    if principal.role == Role.responder:
        return "responder"
    label = tx.session.execute(
        select(col(ApiToken.label)).where(col(ApiToken.id) == principal.token_id)
    ).scalar_one_or_none()
    return f"{principal.role.value}: {label}" if label else principal.role.value


def public_of(emergency: Emergency, responder: Responder, agency: Agency) -> EmergencyPublic:
    position = None
    if responder.lat is not None and responder.lon is not None and responder.position_at:
        position = Position(lat=responder.lat, lon=responder.lon, at=responder.position_at)
    return EmergencyPublic(
        id=emergency.id,
        responder=EmergencyResponder(
            id=responder.id,
            name=responder.name,
            external_id=responder.external_id,
            kind=responder.kind,
        ),
        position=position,
        call_id=emergency.call_id,
        call_made=emergency.call_made,
        raised_at=emergency.raised_at,
        raised_by=emergency.raised_by,
        note=emergency.note,
        backup=[uuid.UUID(a) for a in emergency.backup],
        backup_wanted=emergency.backup_wanted,
        backup_missing=emergency.backup_missing,
        position_interval_s=agency.emergency_position_interval_s,
        closed_at=emergency.closed_at,
        closed_by=emergency.closed_by,
    )


def views_of(tx: Tx, emergencies: list[Emergency], agency_id: uuid.UUID) -> list[EmergencyPublic]:
    """Each emergency as its readers see it, with its responder's latest position."""
    agency = tx.session.get(Agency, agency_id)
    assert agency is not None
    ids = {e.responder_id for e in emergencies}
    responders: dict[uuid.UUID, Responder] = {}
    if ids:
        rows = tx.session.execute(select(Responder).where(col(Responder.id).in_(ids))).scalars()
        responders = {r.id: r for r in rows}
    return [public_of(e, responders[e.responder_id], agency) for e in emergencies]


# Readers of emergencies: staff see their agency's; a responder only its own.
READERS = STAFF | {Role.responder}
# The most an unfiltered list answers, newest first.
LIST_LIMIT = 100


def _readable(principal: Principal) -> None:
    require_role(principal, READERS, "read emergencies")


def get_emergency(tx: Tx, *, principal: Principal, emergency_id: uuid.UUID) -> Emergency:
    """The emergency, if `principal` may see it; otherwise NotFound, as if absent."""
    _readable(principal)
    emergency = tx.session.get(Emergency, emergency_id)
    visible = emergency is not None and emergency.agency_id == principal.agency_id
    if visible and emergency is not None and principal.role == Role.responder:
        visible = emergency.responder_id == principal.responder_id
    if emergency is None or not visible:
        raise NotFound(f"no emergency {emergency_id} in this agency")
    return emergency


def read_emergency(tx: Tx, *, principal: Principal, emergency_id: uuid.UUID) -> EmergencyPublic:
    emergency = get_emergency(tx, principal=principal, emergency_id=emergency_id)
    return views_of(tx, [emergency], principal.agency_id)[0]


def list_emergencies(
    tx: Tx, *, principal: Principal, open_only: bool, limit: int = LIST_LIMIT
) -> list[EmergencyPublic]:
    """The agency's emergencies (a responder's: its own), newest first; `open_only`:
    those not yet closed, for a board that reloads."""
    _readable(principal)
    query = select(Emergency).where(col(Emergency.agency_id) == principal.agency_id)
    if principal.role == Role.responder:
        query = query.where(col(Emergency.responder_id) == principal.responder_id)
    if open_only:
        query = query.where(col(Emergency.closed_at).is_(None))
    query = query.order_by(col(Emergency.raised_at).desc(), col(Emergency.id)).limit(limit)
    return views_of(tx, list(tx.session.execute(query).scalars()), principal.agency_id)
