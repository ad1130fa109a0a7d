"""A bulk AVL feed: a CAD's batch of unit positions, applied in one transaction.

Each report is answered on its own: applied, stale (older than the position held,
so a late packet never moves a unit back), unknown (no such unit: reported, not
fatal) or refused (more than a minute ahead of the server's clock). Reports of one
unit within a batch are taken in order, so the latest wins. One event,
`responder.positions_changed`, carries every position applied. A batch that places a
unit available with no position until then re-plans the waiting calls once, after
every move (`emergencies.positions.place`'s rule); an ordinary batch re-plans nothing.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import SQLModel

from dispatch.cells import position_cell
from dispatch.config import DispatchConfig
from models.agency import Principal
from models.positions import (
    PositionBatch,
    PositionBatchResult,
    PositionOutcome,
    PositionReport,
    PositionResult,
)
from models.vocabulary import Role
from service.dispatching.waiting import replan_waiting
from service.emergencies.positions import joins_the_search
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust.access import STAFF, require_role

FEEDERS = STAFF | {Role.cad}
CLOCK_SKEW = timedelta(minutes=1)

# id, external id, position's time, whether a position puts it in the search first
_Unit = tuple[uuid.UUID, str | None, datetime | None, bool]

# Prepared statements (service/store/prepared.py), not Core: Core's handling of each of
# 1,000 rows' parameters and results cost a batch ~7 ms of its ~35 (bench/positions_batch.py).
_TABLE = SQLModel.metadata.tables["responder"]
_MOVE = Prepared(
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(
        lat=bindparam("b_lat"),
        lon=bindparam("b_lon"),
        position_cell=bindparam("b_cell"),
        position_at=bindparam("b_at"),
    )
)
# A prepared IN list is of fixed length: the names go in chunks of these sizes, the last
# padded with repeats (a repeat in an IN list changes nothing).
_CHUNKS = (8, 64, 256)
_COLUMNS = (
    _TABLE.c.id,
    _TABLE.c.agency_id,
    _TABLE.c.external_id,
    _TABLE.c.position_at,
    _TABLE.c.position_cell,
    _TABLE.c.status,
)


def _names(key: Any, size: int) -> Any:
    return key.in_([bindparam(f"n{i}", type_=key.type) for i in range(size)])


# By id alone, the agency checked on the rows: beside `agency_id = ?`, SQLite (without
# statistics) walked all the agency's units by the external ids' index, not the ids'.
_BY_ID = {size: Prepared(select(*_COLUMNS).where(_names(_TABLE.c.id, size))) for size in _CHUNKS}
# By the (agency_id, external_id) index.
_BY_EXTERNAL_ID = {
    size: Prepared(
        select(*_COLUMNS).where(
            _TABLE.c.agency_id == bindparam("agency"), _names(_TABLE.c.external_id, size)
        )
    )
    for size in _CHUNKS
}


def apply_positions(
    tx: Tx, *, principal: Principal, body: PositionBatch, config: DispatchConfig
) -> PositionBatchResult:
    """Move every unit the batch names to its newest position (staff and CAD only)."""
    require_role(principal, FEEDERS, "report positions in bulk")
    known = _units(tx, principal.agency_id, body.positions)
    held: dict[uuid.UUID, datetime | None] = {unit[0]: unit[2] for unit in known.values()}
    joined = False
    moves: dict[uuid.UUID, dict[str, Any]] = {}
    results = []
    counts = dict.fromkeys(PositionOutcome, 0)
    now = tx.now
    construct = PositionResult.model_construct
    for index, report in enumerate(body.positions):
        name = report.responder_id if report.responder_id is not None else report.external_id
        unit = known.get(name) if name is not None else None
        outcome, detail, rid = _judge(report, unit, held, now)
        counts[outcome] += 1
        if outcome is PositionOutcome.applied and rid is not None and unit is not None:
            held[rid] = report.at
            joined = joined or unit[3]
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
            construct(
                index=index,
                responder_id=rid,
                external_id=unit[1] if unit else report.external_id,
                outcome=outcome,
                detail=detail,
            )
        )
    if moves:
        tx.run_many(_MOVE, list(moves.values()))
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
    if joined:
        replan_waiting(tx, agency_id=principal.agency_id, config=config)
    return PositionBatchResult(
        applied=counts[PositionOutcome.applied],
        stale=counts[PositionOutcome.stale],
        unknown=counts[PositionOutcome.unknown],
        refused=counts[PositionOutcome.refused],
        results=results,
    )


def _judge(
    report: PositionReport,
    unit: _Unit | None,
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


def _units(tx: Tx, agency_id: uuid.UUID, reports: list[PositionReport]) -> dict[Any, _Unit]:
    """The agency's units the batch names, by id and by external id: (id, external id,
    when their position was last set, whether a position puts them in the search
    first)."""
    ids = list({r.responder_id for r in reports if r.responder_id is not None})
    names = list({r.external_id for r in reports if r.external_id is not None})
    known: dict[Any, _Unit] = {}
    for finders, wanted in ((_BY_ID, ids), (_BY_EXTERNAL_ID, names)):
        for row in _find(tx, finders, agency_id, wanted):
            if row.agency_id != agency_id:  # another agency's unit is no unit of this one
                continue
            joins = joins_the_search(position_cell=row.position_cell, status=row.status)
            unit = (row.id, row.external_id, row.position_at, joins)
            known[row.id] = unit
            if row.external_id is not None:
                known[row.external_id] = unit
    return known


def _find(
    tx: Tx, finders: dict[int, Prepared], agency_id: uuid.UUID, wanted: list[Any]
) -> list[Any]:
    """The rows of the agency's units among `wanted` (ids or external ids), a chunk of
    names a statement."""
    rows: list[Any] = []
    start = 0
    while start < len(wanted):
        left = len(wanted) - start
        size = next((s for s in _CHUNKS if s >= left), _CHUNKS[-1])
        chunk = wanted[start : start + size]
        chunk += [chunk[-1]] * (size - len(chunk))
        params: dict[str, Any] = {f"n{i}": name for i, name in enumerate(chunk)}
        params["agency"] = agency_id
        rows += tx.run(finders[size], params).all()
        start += size
    return rows
