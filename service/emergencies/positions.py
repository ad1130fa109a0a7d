"""A responder's position, written one way (`move_to`) for every path that moves one:
`PUT /v1/responders/{id}/position` (`responders.operations.set_position`), the
emergency's body (`lat`, `lon`) and the console socket's `position` action (the socket
sits beside `responders` in the layers, so it reaches the write through this room).

During an emergency nothing more is written: the emergency is shown at its responder's
latest position, and the `responder.position_changed` event reaches every staff console.
"""

from dispatch.cells import position_cell
from models.agency import Principal
from models.responder import PositionUpdate, Responder, ResponderPublic
from models.vocabulary import Role
from service.errors import Forbidden, NotFound
from service.store.transaction import Tx


def move_to(tx: Tx, responder: Responder, lat: float, lon: float) -> None:
    """Move `responder` (its search cell follows) and record `responder.position_changed`."""
    responder.lat, responder.lon = lat, lon
    responder.position_cell = position_cell(lat, lon)
    responder.position_at = tx.now
    tx.session.flush()
    tx.record(
        "responder.position_changed",
        agency_id=responder.agency_id,
        responder_id=responder.id,
        data={"responder_id": str(responder.id), "lat": lat, "lon": lon},
    )


def report_own_position(tx: Tx, *, principal: Principal, body: PositionUpdate) -> ResponderPublic:
    """A responder token's report of where it is."""
    if principal.role != Role.responder or principal.responder_id is None:
        raise Forbidden(
            "only a responder reports its own position here; staff and CAD use "
            "PUT /v1/responders/{id}/position"
        )
    responder = tx.session.get(Responder, principal.responder_id)
    if responder is None or responder.agency_id != principal.agency_id:
        raise NotFound(f"no responder {principal.responder_id} in this agency")
    move_to(tx, responder, body.lat, body.lon)
    return ResponderPublic.of(responder)
