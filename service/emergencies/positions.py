"""A responder's position, written one way (`move_to`) for every path that moves one:
`PUT /v1/responders/{id}/position` (`responders.operations.set_position`), the
emergency's body (`lat`, `lon`) and the console socket's `position` action (the socket
sits beside `responders` in the layers, so it reaches the write through this room).

During an emergency nothing more is written: the emergency is shown at its responder's
latest position, and the `responder.position_changed` event reaches every staff console.

A responder the search could not see (available, but no position yet: on duty before
its phone had a fix) joins it with its first position, and nothing else would tell
the waiting calls: `place` re-plans them in the same write. A responder already placed
re-plans nothing; positions come every few seconds from a whole fleet.
"""

from dispatch.cells import position_cell
from dispatch.config import DispatchConfig
from models.agency import Principal
from models.responder import PositionUpdate, Responder, ResponderPublic
from models.vocabulary import ResponderStatus, Role
from service.dispatching.waiting import replan_waiting
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


def place(tx: Tx, responder: Responder, lat: float, lon: float, *, config: DispatchConfig) -> None:
    """`move_to`; a responder available without a position until now is then offered to
    the waiting calls at once (see the module), so its answer may show it `offered`."""
    joins = joins_the_search(position_cell=responder.position_cell, status=responder.status)
    move_to(tx, responder, lat, lon)
    if joins:
        replan_waiting(tx, agency_id=responder.agency_id, config=config)


def joins_the_search(*, position_cell: int | None, status: str) -> bool:
    """Whether a position would put a responder, with this cell and status now, in the
    search for the first time (the bulk feed asks it of its rows)."""
    return position_cell is None and status == ResponderStatus.available


def report_own_position(
    tx: Tx, *, principal: Principal, body: PositionUpdate, config: DispatchConfig
) -> ResponderPublic:
    """A responder token's report of where it is."""
    if principal.role != Role.responder or principal.responder_id is None:
        raise Forbidden(
            "only a responder reports its own position here; staff and CAD use "
            "PUT /v1/responders/{id}/position"
        )
    responder = tx.session.get(Responder, principal.responder_id)
    if responder is None or responder.agency_id != principal.agency_id:
        raise NotFound(f"no responder {principal.responder_id} in this agency")
    place(tx, responder, body.lat, body.lon, config=config)
    return ResponderPublic.of(responder)
