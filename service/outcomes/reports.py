"""The outcome report (issue 21): the figures a programme reports, computed from the
close records (`call_outcome`), the unserved ledger, the follow-up tasks and the
on-duty periods, never from the event log, which is purged after its retention.
docs/outcomes.md, "The figures", defines each figure; this module is that definition.

One pass in Python over the period's close records: a county's year is ~50,000 rows,
and percentiles need every value anyway. The database hands over times as seconds
since 1970 (converting 50,000 rows of datetimes in Python cost more than the rest of
the report; bench/outcome_report.py)."""

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, Row, String, case, cast, func, or_, select, type_coerce
from sqlmodel import col

from models.agency import Principal
from models.call import Assignment
from models.emergency import EMERGENCY_TEAM
from models.outcome import CallOutcome, FollowUp
from models.report import (
    DIVERSION,
    SMALL_CELL,
    Count,
    DutyPeriod,
    Eligibility,
    Figures,
    FollowUpFigure,
    GroupBy,
    GroupFigures,
    OutcomeReport,
    Rates,
    Referrals,
    RepeatContacts,
    Share,
    TimeFigure,
    Times,
    Utilisation,
    Volume,
)
from models.resource import Resource
from models.rules import Unserved, UnservedReason
from models.vocabulary import Category, Disposition, Role
from service.errors import Invalid
from service.rules.programmes import in_force
from service.store.transaction import Tx
from service.trust.access import require_role

READERS = frozenset({Role.admin, Role.supervisor})
MAX_PERIOD = timedelta(days=366)
# Busy time is found through the calls received in the period and the day before it, so
# a call that spans the period's start still counts for the part inside.
BUSY_LOOKBACK = timedelta(days=1)
STATUSES = ("closed", "cancelled", "referred")
TIMED_GROUPS = (GroupBy.week, GroupBy.month)
Record = Row[Any]  # a close record's figures (_records)
Interval = tuple[float, float]  # seconds since 1970


@dataclass(frozen=True, slots=True)
class Period:
    """What a report is asked for, checked: [start, end) and the grouping."""

    start: datetime
    end: datetime
    group_by: GroupBy | None


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def check_period(start: datetime, end: datetime, group_by: GroupBy | None) -> Period:
    # Far from any call, the look-backs and the month arithmetic would leave the calendar.
    if start < EARLIEST or end > LATEST:
        raise Invalid("`from` and `to` must lie between 1970 and 9000")
    if end <= start:
        raise Invalid("`to` must be after `from`")
    if end - start > MAX_PERIOD:
        raise Invalid(f"the period may span at most {MAX_PERIOD.days} days; ask for less")
    return Period(start, end, group_by)


def report_outcomes(
    tx: Tx, *, principal: Principal, period: Period, repeat_window_days: int
) -> OutcomeReport:
    """The agency's figures for the calls received in the period: exact for the whole
    agency; with a grouping, also a group each, small cells suppressed. Repeat contacts
    are as each call's intake counted them, over `repeat_window_days`."""
    require_role(principal, READERS, "read the outcome report")
    epoch = _epoch_of(tx)
    rows = _records(tx, epoch, principal, period)
    context = _Context(
        unserved=_unserved(tx, principal, period),
        names=_names(tx, principal),
        repeat_window_days=repeat_window_days,
    )
    duty, busy = _duty(tx, epoch, principal, period), _busy(tx, epoch, principal, period)
    edges = [period.start.timestamp(), period.end.timestamp()]
    whole = _figures(rows, context, _exact, _utilisation(duty, busy, edges)[0])
    groups = None
    if period.group_by is not None:
        zone = in_force(tx, principal.agency_id).programme.zone
        groups = _groups(rows, context, period, zone, duty, busy)
    return OutcomeReport.model_validate(
        {**whole.model_dump(), "from": period.start, "to": period.end,
         "group_by": period.group_by, "groups": groups}
    )  # fmt: skip


# --- loading -------------------------------------------------------------------------

Epoch = Callable[[Any], ColumnElement[float]]


def _epoch_of(tx: Tx) -> Epoch:
    """A moment as seconds since 1970, in the database's own words."""
    if tx.connection().dialect.name == "sqlite":
        return lambda moment: (func.julianday(moment) - 2440587.5) * 86400.0
    return lambda moment: cast(func.extract("epoch", moment), Float)


def _key(column: Any) -> ColumnElement[str]:
    """An id as the driver hands it over (a key to match rows by, never parsed)."""
    return type_coerce(column, String)


def _records(tx: Tx, epoch: Epoch, principal: Principal, period: Period) -> list[Record]:
    o = CallOutcome
    received = epoch(col(o.received_at))

    def since(start: Any, stop: Any) -> ColumnElement[float]:
        return epoch(stop) - epoch(start)

    statement = (
        select(
            _key(col(o.call_id)).label("call_id"), col(o.category), col(o.priority), col(o.team),
            col(o.area), col(o.repeat_person), col(o.repeat_place), col(o.status),
            col(o.disposition), col(o.backup_requested), _key(col(o.referral_id)).label("referral"),
            col(o.referral_text), col(o.follow_up_due_at).is_not(None).label("needs_follow_up"),
            received.label("received"),
            since(o.received_at, o.first_offer_at).label("to_offer"),
            since(o.received_at, o.first_accept_at).label("to_accept"),
            since(o.received_at, o.first_on_scene_at).label("to_on_scene"),
            since(o.first_on_scene_at, o.closed_at).label("on_scene"),
            since(o.received_at, o.closed_at).label("total"),
            col(FollowUp.id).is_not(None).label("task"),
            case((col(FollowUp.completed_at) <= col(FollowUp.due_at), 1), else_=0).label("on_time"),
        )
        .outerjoin(FollowUp, col(FollowUp.call_id) == col(o.call_id))
        .where(
            col(o.agency_id) == principal.agency_id,
            col(o.received_at) >= period.start,
            col(o.received_at) < period.end,
            # A call made for a responder's emergency is not the programme's call.
            or_(col(o.team).is_(None), col(o.team) != EMERGENCY_TEAM),
        )
    )  # fmt: skip
    found: Sequence[Any] = tx.connection().execute(statement).all()
    return list(found)


@dataclass(frozen=True, slots=True)
class _Context:
    """What the figures read besides the close records, by call (or resource) key."""

    unserved: dict[str, list[str]]
    names: dict[str, str]
    repeat_window_days: int  # what the calls' intakes counted over (models.contact)


def _unserved(tx: Tx, principal: Principal, period: Period) -> dict[str, list[str]]:
    """The unserved ledger's reasons a call (models/rules.Unserved: the eligibility
    definitions are the ledger's, not repeated here)."""
    found: dict[str, list[str]] = defaultdict(list)
    for call_id, reason in tx.connection().execute(
        select(_key(col(Unserved.call_id)), col(Unserved.reason)).where(
            col(Unserved.agency_id) == principal.agency_id,
            col(Unserved.received_at) >= period.start,
            col(Unserved.received_at) < period.end,
        )
    ):
        found[call_id].append(str(reason))
    return found


def _names(tx: Tx, principal: Principal) -> dict[str, str]:
    rows = tx.connection().execute(
        select(_key(col(Resource.id)), col(Resource.name)).where(
            col(Resource.agency_id) == principal.agency_id
        )
    )
    return {key: name for key, name in rows}  # noqa: C416 (rows are Row, not pairs)


def _duty(tx: Tx, epoch: Epoch, principal: Principal, period: Period) -> list[Interval]:
    """The agency's on-duty stretches that overlap the period (an open one runs to now)."""
    rows = (
        tx.connection()
        .execute(
            select(epoch(col(DutyPeriod.started_at)), epoch(col(DutyPeriod.ended_at))).where(
                col(DutyPeriod.agency_id) == principal.agency_id,
                col(DutyPeriod.started_at) < period.end,
                or_(col(DutyPeriod.ended_at).is_(None), col(DutyPeriod.ended_at) > period.start),
            )
        )
        .all()
    )
    now = tx.now.timestamp()
    return [(s, max(s, now) if e is None else e) for s, e in rows]


def _busy(tx: Tx, epoch: Epoch, principal: Principal, period: Period) -> list[Interval]:
    """From each accept to its clear (or stand-down), on the calls closed that were
    received in the period or the day before."""
    until = func.coalesce(col(Assignment.cleared_at), col(Assignment.ended_at))
    rows = (
        tx.connection()
        .execute(
            select(epoch(col(Assignment.accepted_at)), epoch(until))
            .join(CallOutcome, col(CallOutcome.call_id) == col(Assignment.call_id))
            .where(
                col(CallOutcome.agency_id) == principal.agency_id,
                col(CallOutcome.received_at) >= period.start - BUSY_LOOKBACK,
                col(CallOutcome.received_at) < period.end,
                col(Assignment.accepted_at).is_not(None),
                until.is_not(None),
            )
        )
        .all()
    )
    return [(a, b) for a, b in rows]


# --- figures -------------------------------------------------------------------------

Cell = Callable[[int], Count]


def _exact(n: int) -> Count:
    return n


def _suppressed(n: int) -> Count:
    return SMALL_CELL if 1 <= n <= 4 else n


def _share(count: int, of: int, cell: Cell) -> Share:
    shown_count, shown_of = cell(count), cell(of)
    withheld = of == 0 or isinstance(shown_count, str) or isinstance(shown_of, str)
    return Share(count=shown_count, of=shown_of, rate=None if withheld else round(count / of, 4))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the ceil(q·n)-th smallest of `values` (sorted, not empty)."""
    return values[max(1, math.ceil(q * len(values))) - 1]


def _time(values: list[float], cell: Cell) -> TimeFigure:
    shown = cell(len(values))
    if not values or isinstance(shown, str):
        return TimeFigure(count=shown, p50_s=None, p90_s=None)
    values.sort()
    # To the millisecond: the database's arithmetic on moments leaves ~1e-5 s of noise.
    p50, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return TimeFigure(count=shown, p50_s=round(p50, 3), p90_s=round(p90, 3))


def _times(rows: Sequence[Record], cell: Cell) -> Times:
    closed = [r for r in rows if r.status == "closed"]
    spans = {
        "to_offer": [r.to_offer for r in rows if r.to_offer is not None],
        "to_accept": [r.to_accept for r in rows if r.to_accept is not None],
        "to_on_scene": [r.to_on_scene for r in rows if r.to_on_scene is not None],
        "on_scene": [r.on_scene for r in closed if r.on_scene is not None],
        "total": [r.total for r in closed if r.total is not None],
    }
    return Times(**{name: _time(values, cell) for name, values in spans.items()})


def _counts(values: Iterable[str], keys: Sequence[str], cell: Cell) -> dict[str, Count]:
    """Every one of `keys` (zero included), then any other value found."""
    counted = Counter(values)
    named = [str(k) for k in keys]
    every = [*named, *sorted(k for k in counted if k not in named)]
    return {k: cell(counted[k]) for k in every}


def _figures(
    rows: Sequence[Record], context: _Context, cell: Cell, utilisation: Utilisation | None
) -> Figures:
    unserved = context.unserved
    dispositions = Counter(r.disposition for r in rows if r.disposition is not None)
    n = dispositions.total()
    diverted = sum(dispositions[d.value] for d, yes in DIVERSION.items() if yes)
    decided = sum(dispositions[d.value] for d, yes in DIVERSION.items() if yes is not None)
    unserved_calls = [r.call_id for r in rows if r.call_id in unserved]
    tasks = [r.on_time for r in rows if r.task]
    return Figures(
        calls=cell(len(rows)),
        statuses=_counts((r.status for r in rows), STATUSES, cell),
        volume=Volume(
            by_category=_counts((r.category for r in rows), list(Category), cell),
            by_priority=_counts((str(r.priority) for r in rows), ["1", "2", "3", "4"], cell),
        ),
        eligibility=Eligibility(
            eligible=cell(len(rows)),
            served=_share(len(rows) - len(unserved_calls), len(rows), cell),
            unserved_by_reason=_counts(
                (why for c in unserved_calls for why in unserved[c]), list(UnservedReason), cell
            ),
        ),
        times=_times(rows, cell),
        dispositions={d.value: cell(dispositions[d.value]) for d in DIVERSION},
        diversion=_share(diverted, decided, cell),
        rates=Rates(
            arrest=_share(dispositions[Disposition.arrest.value], n, cell),
            involuntary_hold=_share(dispositions[Disposition.involuntary_hold.value], n, cell),
            emergency_department=_share(dispositions[Disposition.transported_ed.value], n, cell),
            police_backup=_share(
                sum(1 for r in rows if r.disposition is not None and r.backup_requested), n, cell
            ),
            diverted_from_arrest=_share(n - dispositions[Disposition.arrest.value], n, cell),
        ),
        referrals=Referrals(
            by_resource=_counts(
                (context.names.get(r.referral) or str(r.referral) for r in rows if r.referral),
                [],
                cell,
            ),
            free_text=cell(sum(1 for r in rows if r.referral is None and r.referral_text)),
        ),
        follow_up=FollowUpFigure(
            needed=cell(sum(1 for r in rows if r.needs_follow_up)),
            completed_within_due=_share(sum(tasks), len(tasks), cell),
        ),
        repeat_contacts=RepeatContacts(
            window_days=context.repeat_window_days,
            people=_share(
                sum(1 for r in rows if r.repeat_person),
                sum(1 for r in rows if r.repeat_person is not None),
                cell,
            ),
            places=_share(
                sum(1 for r in rows if r.repeat_place),
                sum(1 for r in rows if r.repeat_place is not None),
                cell,
            ),
        ),
        utilisation=utilisation,
    )


# --- utilisation and groups ----------------------------------------------------------


def _spread(intervals: Iterable[Interval], edges: Sequence[float]) -> list[float]:
    """Seconds of `intervals` inside each [edges[i], edges[i+1])."""
    totals = [0.0] * (len(edges) - 1)
    for s, e in intervals:
        s, e = max(s, edges[0]), min(e, edges[-1])
        i = bisect_right(edges, s) - 1
        while s < e and i < len(totals):
            upto = min(e, edges[i + 1])
            totals[i] += upto - s
            s, i = upto, i + 1
    return totals


def _utilisation(
    duty: list[Interval], busy: list[Interval], edges: list[float]
) -> list[Utilisation]:
    """Busy ÷ on-duty seconds within each [edges[i], edges[i+1])."""
    return [
        Utilisation(
            on_duty_s=round(on, 3), busy_s=round(on_call, 3),
            rate=round(on_call / on, 4) if on else None,
        )
        for on, on_call in zip(_spread(duty, edges), _spread(busy, edges), strict=True)
    ]  # fmt: skip


def bucket_starts(period: Period, zone: ZoneInfo) -> list[datetime]:
    """The period's start, then the local starts of the weeks (Monday) or months in it."""
    day = period.start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    day = day.replace(tzinfo=None)
    starts = [period.start]
    while True:
        if period.group_by == GroupBy.week:
            day = day - timedelta(days=day.weekday()) + timedelta(days=7)
        else:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        moment = day.replace(tzinfo=zone).astimezone(UTC)
        if moment >= period.end:
            return starts
        starts.append(moment)


def time_key(moment: datetime, group_by: GroupBy, zone: ZoneInfo) -> str:
    """A week as `2026-W49` (ISO, Monday first), a month as `2026-12`, in the programme's zone."""
    local = moment.astimezone(zone)
    if group_by == GroupBy.week:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local.year}-{local.month:02d}"


def _groups(
    rows: Sequence[Record],
    context: _Context,
    period: Period,
    zone: ZoneInfo,
    duty: list[Interval],
    busy: list[Interval],
) -> list[GroupFigures]:
    group_by = period.group_by
    assert group_by is not None
    by_key: dict[str, list[Record]] = {}
    utilisation: dict[str, Utilisation] = {}
    if group_by in TIMED_GROUPS:
        starts = bucket_starts(period, zone)
        edges = [s.timestamp() for s in starts] + [period.end.timestamp()]
        keys = [time_key(s, group_by, zone) for s in starts]
        by_key = {key: [] for key in keys}
        utilisation = dict(zip(keys, _utilisation(duty, busy, edges), strict=True))
        for r in rows:
            by_key[keys[bisect_right(edges, r.received) - 1]].append(r)
    else:
        column = {GroupBy.team: "team", GroupBy.category: "category", GroupBy.area: "area"}
        for r in rows:
            by_key.setdefault(getattr(r, column[group_by]) or "none", []).append(r)
        by_key = dict(sorted(by_key.items()))
    return [
        GroupFigures(
            key=key,
            **_figures(members, context, _suppressed, utilisation.get(key)).model_dump(),
        )
        for key, members in by_key.items()
    ]
