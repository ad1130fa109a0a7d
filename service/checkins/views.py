"""What check-in events and answers carry: the check-in, and for an alarm the responder
and the call, and who a principal is in words."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from models.agency import ApiToken, Principal
from models.call import Call
from models.checkin import Checkin, CheckinPublic
from models.columns import iso_utc
from models.responder import Responder
from service.store.transaction import Tx


def checkin_data(row: Checkin) -> dict[str, Any]:
    """The `checkin` of every check-in event's data."""
    return CheckinPublic.of(row).model_dump(mode="json")


def alarm_data(tx: Tx, row: Checkin) -> dict[str, Any]:
    """`{checkin, responder, call}`: what a dispatcher needs to act on a missed check-in."""
    responder = tx.session.get(Responder, row.responder_id)
    call = tx.session.get(Call, row.call_id)
    assert responder is not None and call is not None  # rows are never deleted
    position = (
        None
        if responder.lat is None or responder.lon is None
        else {
            "lat": responder.lat,
            "lon": responder.lon,
            "at": iso_utc(responder.position_at) if responder.position_at else None,
        }
    )
    return {
        "checkin": checkin_data(row),
        "responder": {
            "id": str(responder.id),
            "name": responder.name,
            "external_id": responder.external_id,
            "kind": responder.kind,
            "position": position,
        },
        "call": {"id": str(call.id), "address": call.address, "lat": call.lat, "lon": call.lon},
    }


def label_of(tx: Tx, principal: Principal) -> str:
    """Who acted, as a dispatcher reads it (as an emergency's `closed_by`): the role, and
    the token's label if it has one (`dispatcher: desk 2`)."""
    label = tx.session.execute(
        select(col(ApiToken.label)).where(col(ApiToken.id) == principal.token_id)
    ).scalar_one_or_none()
    return f"{principal.role.value}: {label}" if label else principal.role.value


def record_checkin_event(
    tx: Tx, type: str, row: Checkin, data: dict[str, Any], *, to_responder: bool
) -> None:
    """Append a `checkin.*` event. Only those `to_responder` carry the responder's id:
    the hub and a console's replay give a responder the events with its id, so the
    alarm, its acknowledgement and its escalation reach staff alone."""
    responder_id: uuid.UUID | None = row.responder_id if to_responder else None
    tx.record(
        type,
        agency_id=row.agency_id,
        call_id=row.call_id,
        responder_id=responder_id,
        assignment_id=row.assignment_id,
        data=data,
    )
