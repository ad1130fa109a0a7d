"""A bulk AVL feed: a CAD's batch of unit positions, applied in one transaction.

Each report is answered on its own: applied, stale (older than the position held,
so a late packet never moves a unit back), unknown (no such unit: reported, not
fatal) or refused (more than a minute ahead of the server's clock). Reports of one
unit within a batch are taken in order, so the latest wins. One event,
`responder.positions_changed`, carries every position applied.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlmodel import SQLModel, col

from dispatch.cells import position_cell
from models.agency import Principal
from models.positions import (
    PositionBatch,
    PositionBatchResult,
    PositionOutcome,
    PositionReport,
    PositionResult,
)
from models.responder import Responder
from models.vocabulary import Role
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role

FEEDERS = STAFF | {Role.cad}
CLOCK_SKEW = timedelta(minutes=1)

# Core, not the ORM: one executemany of a statement built once (positions are columns
# of responder rows nobody holds in this transaction).
_TABLE = SQLModel.metadata.tables["responder"]
_MOVE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(
        lat=bindparam("b_lat"),
        lon=bindparam("b_lon"),
        position_cell=bindparam("b_cell"),
        position_at=bindparam("b_at"),
    )
)


def apply_positions(tx: Tx, *, principal: Principal, body: PositionBatch) -> PositionBatchResult:
    """Move every unit the batch names to its newest position (staff and CAD only)."""
    require_role(principal, FEEDERS, "report positions in bulk")
    known = _units(tx, principal.agency_id, body.positions)
    held: dict[uuid.UUID, datetime | None] = {rid: at for rid, _, at in known.values()}
    moves: dict[uuid.UUID, dict[str, Any]] = {}
    results = []
    for index, report in enumerate(body.positions):
        name = report.responder_id if report.responder_id is not None else report.external_id
        unit = known.get(name) if name is not None else None
        outcome, detail, rid = _judge(report, unit, held, tx.now)
        if outcome == PositionOutcome.applied and rid is not None:
            held[rid] = report.at
            moves[rid] = {
                "b_id": rid,
                "b_lat": report.lat,
                "b_lon": report.lon,
                "b_cell": position_cell(report.lat, report.lon),
                "b_at": report.at,
            }
        results.append(
            # Built from values already checked: validating 1,000 results again cost a
            # batch ~9 ms of its ~55 (bench/positions_batch.py).
            PositionResult.model_construct(
                index=index,
                responder_id=rid,
                external_id=unit[1] if unit else report.external_id,
                outcome=outcome,
                detail=detail,
            )
        )
    if moves:
        tx.session.connection().execute(_MOVE, list(moves.values()))
        tx.record(
            "responder.positions_changed",
            agency_id=principal.agency_id,
            data={
                "positions": [
                    {
                        "responder_id": str(m["b_id"]),
                        "lat": m["b_lat"],
                        "lon": m["b_lon"],
                        "at": m["b_at"].isoformat(),
                    }
                    for m in moves.values()
                ]
            },
        )
    counts = {o: sum(r.outcome == o for r in results) for o in PositionOutcome}
    return PositionBatchResult(
        applied=counts[PositionOutcome.applied],
        stale=counts[PositionOutcome.stale],
        unknown=counts[PositionOutcome.unknown],
        refused=counts[PositionOutcome.refused],
        results=results,
    )


def _judge(
    report: PositionReport,
    unit: tuple[uuid.UUID, str | None, datetime | None] | None,
    held: dict[uuid.UUID, datetime | None],
    now: datetime,
) -> tuple[PositionOutcome, str | None, uuid.UUID | None]:
    if unit is None:
        named = (
            f"responder {report.responder_id}"
            if report.responder_id
            else (f"external_id {report.external_id!r}")
        )
        return PositionOutcome.unknown, f"no unit with {named} in this agency", None
    rid = unit[0]
    if report.at > now + CLOCK_SKEW:
        return (
            PositionOutcome.refused,
            f"at {report.at.isoformat()} is more than a minute ahead of the server's clock "
            f"({now.isoformat()}): check the sender's clock",
            rid,
        )
    last = held[rid]
    if last is not None and report.at < last:
        return PositionOutcome.stale, f"older than the position held, from {last.isoformat()}", rid
    return PositionOutcome.applied, None, rid


def _units(
    tx: Tx, agency_id: uuid.UUID, reports: list[PositionReport]
) -> dict[uuid.UUID | str, tuple[uuid.UUID, str | None, datetime | None]]:
    """The agency's units the batch names, by id and by external id: (id, external id,
    when their position was last set)."""
    ids = {r.responder_id for r in reports if r.responder_id is not None}
    names = {r.external_id for r in reports if r.external_id is not None}
    # Only the lists given: an empty `IN ()` beside the other made SQLite scan every unit.
    named = [col(Responder.id).in_(ids)] if ids else []
    named += [col(Responder.external_id).in_(names)] if names else []
    # On the connection, not the session: plain rows, without the ORM's loading.
    rows = tx.session.connection().execute(
        select(col(Responder.id), col(Responder.external_id), col(Responder.position_at)).where(
            col(Responder.agency_id) == agency_id, or_(*named)
        )
    )
    known: dict[uuid.UUID | str, tuple[uuid.UUID, str | None, datetime | None]] = {}
    for row in rows:
        unit = (row.id, row.external_id, row.position_at)
        known[row.id] = unit
        if row.external_id is not None:
            known[row.external_id] = unit
    return known
