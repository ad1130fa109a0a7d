"""The outcome report (issue 21) over a county's year: 50,000 calls with their close
records, assignments, unserved entries, follow-ups and on-duty periods seeded on a
SQLite file; the report for a month and for the year, without a grouping and by each,
as JSON and as CSV.

In-process, as bench/positions_batch.py: the read through the unit of work and the
serialising the route does; no HTTP. Budget (issue 21): a month within 1 s and the
year within 5 s on the embedded SQLite (the slowest grouping counts).

    .venv/bin/python -m bench.outcome_report                  # 50,000 calls, 3 runs each
"""

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bench.load_seed import seed
from models.agency import Agency, Principal
from models.call import Assignment, Call
from models.outcome import CallOutcome, FollowUp
from models.report import DutyPeriod, GroupBy
from models.responder import Responder
from models.rules import Unserved, UnservedReason
from models.vocabulary import Category, Disposition, Role
from service.outcomes.report_routes import as_csv
from service.outcomes.reports import Period, report_outcomes
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.trust.auth import check_token, issue_token

YEAR = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
BUDGET_S = {"month": 1.0, "year": 5.0}
GROUPINGS: list[GroupBy | None] = [None, *GroupBy]
TEAMS = ["co_response", "clinician", "officer_only"]
AREAS = ["north", "south", "east", None]


def call_rows(
    rng: random.Random, agency_id: uuid.UUID, responders: list[uuid.UUID], calls: int
) -> dict[Any, list[dict[str, Any]]]:
    """Every table's rows for `calls` calls spread over the year."""
    rows: dict[Any, list[dict[str, Any]]] = {
        t: [] for t in (Call, CallOutcome, Assignment, Unserved, FollowUp)
    }
    cells = [rng.getrandbits(52) for _ in range(calls // 15)]
    for _ in range(calls):
        cid = uuid.UUID(int=rng.getrandbits(128))
        received = YEAR + timedelta(seconds=rng.uniform(0, 365 * 86400))
        category, team = rng.choice(list(Category)), rng.choice(TEAMS)
        cancelled = rng.random() < 0.05
        offer = received + timedelta(seconds=rng.uniform(5, 120))
        accept = offer + timedelta(seconds=rng.uniform(5, 90))
        scene = accept + timedelta(seconds=rng.uniform(300, 1800))
        closed = scene + timedelta(seconds=rng.uniform(600, 7200))
        rows[Call].append({
            "id": cid, "agency_id": agency_id, "lat": 40.0, "lon": -75.0, "category": category,
            "weapon": False, "violence": False, "medical": False, "priority": rng.randint(1, 4),
            "status": "cancelled" if cancelled else "closed", "programme_version": 1,
            "plan_rule": "everyone", "plan_team": team, "plan_reason": "bench", "plan_roles": [],
            "plan_fallback": [], "plan_taken": [], "received_at": received, "created_at": received,
            "closed_at": closed,
        })  # fmt: skip
        disposition = None if cancelled else rng.choice(list(Disposition))
        rows[CallOutcome].append({
            "call_id": cid, "agency_id": agency_id, "category": category,
            "priority": rows[Call][-1]["priority"], "team": team, "rule": "everyone",
            "area": rng.choice(AREAS),
            "place_cell": rng.choice(cells),
            "repeat_person": rng.choice((None, 0, 0, 1, 3)),
            "repeat_place": rng.choice((0, 0, 1, 2)),
            "received_at": received, "first_offer_at": offer,
            "first_accept_at": None if cancelled else accept,
            "first_on_scene_at": None if cancelled else scene, "closed_at": closed,
            "status": "cancelled" if cancelled else "closed", "disposition": disposition,
            "officer_on_call": team != "clinician", "backup_requested": rng.random() < 0.1,
            "referral_text": "clinic" if disposition == Disposition.referred else None,
            "follow_up_due_at": closed + timedelta(hours=48) if rng.random() < 0.2 else None,
            "recorded_at": closed,
        })  # fmt: skip
        for _ in range(1 if team == "clinician" else 2):
            rows[Assignment].append({
                "id": uuid.UUID(int=rng.getrandbits(128)), "agency_id": agency_id, "call_id": cid,
                "responder_id": rng.choice(responders), "role": "clinician", "team": team,
                "state": "cancelled" if cancelled else "cleared", "eta_s": 300.0,
                "distance_m": 2000.0, "travel_by": "straight line", "offered_at": offer,
                "offer_expires_at": offer + timedelta(seconds=60),
                "accepted_at": None if cancelled else accept,
                "cleared_at": None if cancelled else closed,
                "ended_at": closed if cancelled else None,
            })  # fmt: skip
        if rng.random() < 0.06:
            rows[Unserved].append({
                "id": uuid.UUID(int=rng.getrandbits(128)), "agency_id": agency_id, "call_id": cid,
                "programme_version": 1, "rule": "everyone", "team": team,
                "reason": rng.choice(list(UnservedReason)), "hour_of_week": 0,
                "received_at": received, "recorded_at": received,
            })  # fmt: skip
        due = rows[CallOutcome][-1]["follow_up_due_at"]
        if due is not None:
            done = closed + timedelta(hours=rng.uniform(1, 72)) if rng.random() < 0.8 else None
            rows[FollowUp].append({
                "id": uuid.UUID(int=rng.getrandbits(128)), "agency_id": agency_id, "call_id": cid,
                "state": "completed" if done else "open", "opened_at": closed, "due_at": due,
                "completed_at": done,
            })  # fmt: skip
    return rows


def duty_rows(agency_id: uuid.UUID, responders: list[uuid.UUID]) -> list[dict[str, Any]]:
    """A 10-hour shift a day, five days in seven, for each responder, all year."""
    return [
        {
            "id": uuid.uuid4(),
            "agency_id": agency_id,
            "responder_id": rid,
            "started_at": YEAR + timedelta(days=day, hours=7 + n % 8),
            "ended_at": YEAR + timedelta(days=day, hours=17 + n % 8),
        }
        for n, rid in enumerate(responders)
        for day in range(365)
        if (day + n) % 7 < 5
    ]


def write_year(
    tx: Tx, agency_id: uuid.UUID, responders: list[uuid.UUID], *, calls: int, rng: random.Random
) -> None:
    """A year of `calls` calls and every row the report reads of them, in bulk."""
    tables = call_rows(rng, agency_id, responders, calls)
    tables[DutyPeriod] = duty_rows(agency_id, responders)
    for table, rows in tables.items():
        for start in range(0, len(rows), 5000):
            tx.session.execute(insert(table), rows[start : start + 5000])


def seed_year(uow: UnitOfWork, *, calls: int, responders: int) -> Principal:
    """The agency, its year of calls, and a supervisor to read the report."""
    rng = random.Random(21)
    seeded = seed(uow, responders=responders, on_duty=0, dispatchers=0, rng=rng)

    def write(tx: Tx) -> str:
        agency = tx.session.query(Agency).filter_by(slug=seeded.agency_slug).one()
        rids = [r.id for r in tx.session.query(Responder).filter_by(agency_id=agency.id)]
        write_year(tx, agency.id, rids, calls=calls, rng=rng)
        return issue_token(tx, agency=agency, role=Role.supervisor)

    token = uow.write_sync(write)
    principal, refusal = uow.read_sync(check_token, token)
    assert principal is not None and refusal is None
    return principal


def _timed(work: Callable[[], object], repeat: int) -> float:
    """The median seconds of `repeat` runs of `work`."""
    spent = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def measure(*, calls: int, responders: int, repeat: int) -> list[tuple[str, str, float, float]]:
    """(period, grouping, JSON s, CSV s) for the month and the year, each grouping."""
    with tempfile.TemporaryDirectory(prefix="corespond-report-") as tmp:
        engine = make_engine(Settings(database_url=f"sqlite:///{tmp}/report.db"))
        upgrade(engine)
        uow = UnitOfWork(engine, bus=None, serialize_writes=False)
        principal = seed_year(uow, calls=calls, responders=responders)
        results = []
        for name, (start, end) in (("month", MONTH), ("year", (YEAR, YEAR + timedelta(days=365)))):
            for group_by in GROUPINGS:
                period = Period(start, end, group_by)

                def read(period: Period = period) -> Any:
                    return uow.read_sync(
                        report_outcomes, principal=principal, period=period, repeat_window_days=90
                    )

                as_json = _timed(lambda: read().model_dump_json(by_alias=True), repeat)
                as_text = _timed(lambda: as_csv(read()), repeat)
                results.append((name, group_by.value if group_by else "none", as_json, as_text))
        engine.dispose()
        return results


def report(results: list[tuple[str, str, float, float]], calls: int) -> str:
    lines = [
        f"| {calls:,} calls: period | group_by | JSON ms | CSV ms |",
        "| --- | --- | --- | --- |",
        *(f"| {p} | {g} | {j * 1e3:.0f} | {c * 1e3:.0f} |" for p, g, j, c in results),
        "",
    ]
    for period, budget in BUDGET_S.items():
        worst = max(max(j, c) for p, _, j, c in results if p == period)
        held = "met" if worst <= budget else "MISSED"
        lines.append(
            f"Budget: the {period} within {budget:.0f} s on SQLite: {held} "
            f"(slowest {worst * 1e3:.0f} ms, median of runs)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--responders", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    results = measure(calls=args.calls, responders=args.responders, repeat=args.repeat)
    print(report(results, args.calls), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
