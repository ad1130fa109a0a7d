"""The unserved ledger: every eligible call that did not get a rule's team, and why.

A call is eligible for every rule, down to and including the one it matched, whose
`when` it satisfies with hours and area ignored (`dispatch.programme.eligible_rules`);
it is unserved by each such rule whose team it did not end up with, once a rule, with
the first reason found: `outside_hours` or `outside_area` at intake, then
`no_team_available`, `all_declined` or `fallback_after_timeout` when its team is
replaced, `cancelled` when it is stood down before its team was complete; and
`escalated_by_risk` once calls have an update that changes a flag (not yet).
"""

import uuid
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select
from sqlmodel import col

from models.agency import Principal
from models.call import Call
from models.emergency import EMERGENCY_RULE
from models.programme import DAYS
from models.rules import HourCount, Unserved, UnservedCall, UnservedReason, UnservedReport
from models.vocabulary import Role
from service.errors import Invalid
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust.access import require_role

_RECORDED = Prepared(
    select(col(Unserved.id)).where(
        col(Unserved.call_id) == bindparam("call_id"), col(Unserved.rule) == bindparam("rule")
    )
)
_INSERT = Prepared(insert(Unserved).inline())


def record_unserved(
    tx: Tx, call: Call, *, rule: str, team: str, reason: UnservedReason, zone: ZoneInfo
) -> bool:
    """Note that `call` did not get `team`, which `rule` sends, for `reason`; a rule
    already noted for the call keeps its first reason. True if this one was new. A call
    made for a responder's emergency is not the programme's, and is never noted."""
    if call.plan_rule == EMERGENCY_RULE:
        return False
    if tx.run(_RECORDED, {"call_id": call.id, "rule": rule}).first() is not None:
        return False
    local = call.received_at.astimezone(zone)
    tx.run(
        _INSERT,
        {
            "id": uuid.uuid4(),
            "agency_id": call.agency_id,
            "call_id": call.id,
            "programme_version": call.programme_version,
            "rule": rule,
            "team": team,
            "reason": reason,
            "hour_of_week": local.weekday() * 24 + local.hour,
            "received_at": call.received_at,
            "recorded_at": tx.now,
        },
    )
    tx.record(
        "call.unserved",
        agency_id=call.agency_id,
        call_id=call.id,
        data={"id": str(call.id), "rule": rule, "team": team, "reason": reason.value},
    )
    return True


# Who may read the report's counts, and who also the calls behind them.
REPORT_READERS = frozenset({Role.admin, Role.supervisor, Role.dispatcher, Role.cad})
CALL_READERS = frozenset({Role.admin, Role.supervisor, Role.dispatcher})
MAX_CALLS = 5000


def report_unserved(
    tx: Tx, *, principal: Principal, start: datetime, end: datetime
) -> UnservedReport:
    """The agency's unserved calls received in [start, end), counted by reason, rule and
    hour of the week; the calls behind them (the newest 5,000) for those who may see them."""
    require_role(principal, REPORT_READERS, "read the unserved report")
    if end <= start:
        raise Invalid("`to` must be after `from`")
    rows = list(
        tx.session.execute(
            select(Unserved)
            .where(
                col(Unserved.agency_id) == principal.agency_id,
                col(Unserved.received_at) >= start,
                col(Unserved.received_at) < end,
            )
            .order_by(col(Unserved.received_at).desc(), col(Unserved.rule))
        ).scalars()
    )
    hours = Counter(r.hour_of_week for r in rows)
    calls = None
    if principal.role in CALL_READERS:
        calls = [
            UnservedCall(
                call_id=r.call_id,
                rule=r.rule,
                team=r.team,
                reason=r.reason,
                received_at=r.received_at,
                recorded_at=r.recorded_at,
            )
            for r in rows[:MAX_CALLS]
        ]
    return UnservedReport.model_validate(
        {
            "from": start,
            "to": end,
            "total": len(rows),
            "by_reason": dict(Counter(str(r.reason) for r in rows).most_common()),
            "by_rule": dict(Counter(r.rule for r in rows).most_common()),
            "by_hour_of_week": [
                HourCount(day=DAYS[h // 24], hour=h % 24, count=n) for h, n in sorted(hours.items())
            ],
            "calls": calls,
        }
    )
