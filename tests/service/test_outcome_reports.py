"""The outcome report (issue 21, section 5) checked figure by figure against numbers
worked out by hand, on close records seeded with known times (the clock of a call's
steps is the server's; the close records are what the report reads).

The story: two weeks of an agency's calls, 2 to 15 March 2026 (Monday to Sunday twice),
eleven calls in the period, one in February (a person seen before) and one after.
"""

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from models.call import Assignment, Call
from models.outcome import CallOutcome, FollowUp
from models.report import DIVERSION, DutyPeriod
from models.resource import Resource
from models.responder import Responder
from models.rules import Unserved, UnservedReason
from models.vocabulary import (
    AssignmentState,
    CallStatus,
    Category,
    Disposition,
    FollowUpState,
    ResourceKind,
    Role,
)
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from tests.conftest import AgencyKit, new_agency
from tests.service.factories import post_call, responder

FROM, TO = "2026-03-02T00:00:00Z", "2026-03-16T00:00:00Z"
DOCS = Path(__file__).parents[2] / "docs" / "outcomes.md"


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def minutes(n: int | None) -> timedelta | None:
    return None if n is None else timedelta(minutes=n)


@dataclass
class Seeded:
    """One call as it closed: minutes after `received` of each step (None: never)."""

    name: str
    received: datetime
    category: str
    priority: int
    team: str
    area: str | None
    status: str = "closed"
    disposition: str | None = None
    offer: int | None = None
    accept: int | None = None
    on_scene: int | None = None
    close: int = 60
    backup: bool = False
    person: str | None = None
    place: int | None = None
    referral: str | None = None  # "resource" or free text
    follow_up: str | None = None  # "on time", "late", "open"
    unserved: str | None = None  # the ledger's reason


CALLS = [
    Seeded("c0", at(10, month=2), "mental_health_crisis", 2, "clinician", "north",
           disposition="resolved_on_scene", offer=1, accept=2, on_scene=10, close=30, person="B"),
    Seeded("c1", at(2), "suicidal_ideation", 1, "clinician", "north",
           disposition="resolved_on_scene", offer=1, accept=2, on_scene=10, close=40,
           person="A", place=1001),
    Seeded("c2", at(3), "mental_health_crisis", 2, "clinician", "north",
           disposition="referred", offer=2, accept=4, on_scene=20, close=80, person="B",
           referral="resource", follow_up="on time"),
    Seeded("c3", at(4), "mental_health_crisis", 2, "co_response", "south",
           disposition="transported_crisis_centre", offer=1, accept=3, on_scene=15, close=75,
           backup=True, place=1001),
    Seeded("c4", at(5), "disturbance", 3, "co_response", "south", disposition="arrest",
           offer=3, accept=6, on_scene=30, close=90, backup=True, person="A"),
    Seeded("c5", at(6), "welfare_check", 4, "clinician", "north", disposition="no_contact",
           offer=1, accept=2, on_scene=25, close=35, place=1001),
    Seeded("c6", at(7), "overdose", 1, "co_response", None, disposition="transported_ed",
           offer=2, accept=5, on_scene=12, close=60, follow_up="late"),
    Seeded("c7", at(8), "suicidal_ideation", 1, "clinician", "north",
           disposition="involuntary_hold", offer=5, accept=10, on_scene=40, close=160,
           unserved="outside_hours"),
    Seeded("c8", at(8, 12), "disturbance", 3, "clinician", "north", status="cancelled",
           offer=1, close=5, unserved="cancelled"),
    Seeded("c9", at(9), "mental_health_crisis", 2, "clinician", "north",
           disposition="resolved_on_scene", offer=1, accept=2, on_scene=10, close=50,
           referral="GP practice", follow_up="open"),
    Seeded("c10", at(10), "welfare_check", 3, "clinician", "north",
           disposition="voluntary_hold", offer=4, accept=8, on_scene=20, close=100, person="B"),
    Seeded("c11", at(11), "substance_use", 2, "co_response", "south", status="referred",
           close=1, unserved="no_team_available"),
    Seeded("c12", at(16), "overdose", 1, "clinician", "north", disposition="arrest",
           offer=1, accept=2, on_scene=3, close=4),
]  # fmt: skip

# On duty: 8 h on 2 March; 8 h across the weeks' midnight (4 h each side); and the last
# 2 h of a stretch that began before the period.
DUTY = [
    (at(2, 8), at(2, 16)),
    (at(8, 20), at(9, 4)),
    (datetime(2026, 2, 28, 20, tzinfo=UTC), at(2, 2)),
]


def earlier(call: Seeded, what: str) -> int | None:
    """What the call's intake counted: the earlier calls in 90 days at the same person
    (or place); None for a call that named nobody (or had no place)."""
    mine = getattr(call, what)
    if mine is None:
        return None
    return sum(
        1
        for c in CALLS
        if getattr(c, what) == mine
        and call.received - timedelta(days=90) <= c.received
        and c.received < call.received
    )


def seed(tx: Tx, agency_id: uuid.UUID) -> None:
    """The story's rows, as the close path and the ledger write them."""
    centre = Resource(
        agency_id=agency_id, name="Hope Crisis Centre", kind=ResourceKind.crisis_centre,
        lat=40.0, lon=-75.0, categories=[], age_groups=[],
    )  # fmt: skip
    responders = [Responder(agency_id=agency_id, kind="clinician", name=f"R{i}") for i in range(3)]
    tx.session.add_all([centre, *responders])
    tx.session.flush()
    for (start, end), person in zip(DUTY, responders, strict=True):
        tx.session.add(
            DutyPeriod(agency_id=agency_id, responder_id=person.id, started_at=start, ended_at=end)
        )
    for c in CALLS:
        category, status = Category(c.category), CallStatus(c.status)
        disposition = Disposition(c.disposition) if c.disposition else None
        call = Call(
            agency_id=agency_id, lat=40.0, lon=-75.0, category=category, priority=c.priority,
            status=status, plan_rule="everyone", plan_team=c.team, plan_reason="seeded",
            plan_roles=[], received_at=c.received,
        )  # fmt: skip
        tx.session.add(call)
        tx.session.flush()
        steps = (("offer", c.offer), ("accept", c.accept), ("on_scene", c.on_scene))
        step = {k: c.received + m if (m := minutes(v)) else None for k, v in steps}
        closed = c.received + timedelta(minutes=c.close)
        tx.session.add(
            CallOutcome(
                call_id=call.id, agency_id=agency_id, category=category, priority=c.priority,
                team=c.team, rule="everyone", area=c.area, place_cell=c.place,
                repeat_person=earlier(c, "person"), repeat_place=earlier(c, "place"),
                received_at=c.received,
                first_offer_at=step["offer"], first_accept_at=step["accept"],
                first_on_scene_at=step["on_scene"], closed_at=closed, status=c.status,
                disposition=disposition, backup_requested=c.backup,
                referral_id=centre.id if c.referral == "resource" else None,
                referral_text=c.referral if c.referral not in (None, "resource") else None,
                follow_up_due_at=closed + timedelta(hours=24) if c.follow_up else None,
            )
        )  # fmt: skip
        if c.follow_up:
            done = {"on time": closed + timedelta(hours=3), "late": closed + timedelta(hours=30)}
            tx.session.add(
                FollowUp(
                    agency_id=agency_id, call_id=call.id,
                    state=FollowUpState.open if c.follow_up == "open" else FollowUpState.completed,
                    opened_at=closed, due_at=closed + timedelta(hours=24),
                    completed_at=done.get(c.follow_up),
                )
            )  # fmt: skip
        if c.unserved:
            tx.session.add(
                Unserved(
                    agency_id=agency_id, call_id=call.id, programme_version=1, rule="everyone",
                    team=c.team, reason=UnservedReason(c.unserved), hour_of_week=0,
                    received_at=c.received,
                )
            )  # fmt: skip
        if c.name in ("c1", "c9"):  # R0's calls: busy from accept to clear
            tx.session.add(
                Assignment(
                    agency_id=agency_id, call_id=call.id, responder_id=responders[0].id,
                    role="clinician", state=AssignmentState.cleared, eta_s=60, distance_m=500,
                    offered_at=c.received, offer_expires_at=c.received,
                    accepted_at=step["accept"], cleared_at=closed,
                )
            )  # fmt: skip


@pytest.fixture(scope="module")
def story(server: Any) -> AgencyKit:
    kit = new_agency(server)
    server.uow.write_sync(seed, kit.id)
    return kit


@pytest.fixture(scope="module")
def reports(story: AgencyKit) -> Iterator[httpx.Client]:
    with story.client(Role.supervisor) as client:
        yield client


def report(client: httpx.Client, **params: str) -> dict[str, Any]:
    answer = client.get("/v1/reports/outcomes", params={"from": FROM, "to": TO, **params})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def share(count: int | str, of: int | str, rate: float | None) -> dict[str, Any]:
    return {"count": count, "of": of, "rate": rate}


def test_the_whole_agency_figures_are_exact_and_match_the_hand_count(
    reports: httpx.Client,
) -> None:
    body = report(reports)
    assert body["calls"] == 11
    assert body["statuses"] == {"closed": 9, "cancelled": 1, "referred": 1}
    assert body["volume"]["by_category"] == {
        "suicidal_ideation": 2, "mental_health_crisis": 3, "substance_use": 1,
        "overdose": 1, "welfare_check": 2, "disturbance": 2,
    }  # fmt: skip
    assert body["volume"]["by_priority"] == {"1": 3, "2": 4, "3": 3, "4": 1}
    assert body["dispositions"] == {
        "resolved_on_scene": 2, "referred": 1, "transported_crisis_centre": 1,
        "voluntary_hold": 1, "transported_ed": 1, "involuntary_hold": 1, "arrest": 1,
        "no_contact": 1,
    }  # fmt: skip
    # Diverted: 2 resolved + 1 referred + 1 crisis centre; not: ED, voluntary,
    # involuntary, arrest; no contact left out.
    assert body["diversion"] == share(4, 8, 0.5)
    assert body["rates"] == {
        "arrest": share(1, 9, 0.1111),
        "involuntary_hold": share(1, 9, 0.1111),
        "emergency_department": share(1, 9, 0.1111),
        "police_backup": share(2, 9, 0.2222),
        "diverted_from_arrest": share(8, 9, 0.8889),
    }


def test_times_are_nearest_rank_percentiles_of_each_span(reports: httpx.Client) -> None:
    times = report(reports)["times"]
    # to offer (min): 1,1,1,1,1,2,2,3,4,5 → 5th and 9th of 10
    assert times["to_offer"] == {"count": 10, "p50_s": 60, "p90_s": 240}
    # to accept: 2,2,2,3,4,5,6,8,10 → 5th and 9th of 9 (the cancelled call never accepted)
    assert times["to_accept"] == {"count": 9, "p50_s": 240, "p90_s": 600}
    # to on scene: 10,10,12,15,20,20,25,30,40
    assert times["to_on_scene"] == {"count": 9, "p50_s": 1200, "p90_s": 2400}
    # on scene, closed calls: 10,30,40,48,60,60,60,80,120
    assert times["on_scene"] == {"count": 9, "p50_s": 3600, "p90_s": 7200}
    # total, closed calls: 35,40,50,60,75,80,90,100,160
    assert times["total"] == {"count": 9, "p50_s": 4500, "p90_s": 9600}


def test_eligibility_referrals_follow_up_repeats_and_utilisation(reports: httpx.Client) -> None:
    body = report(reports)
    assert body["eligibility"]["eligible"] == 11
    assert body["eligibility"]["served"] == share(8, 11, 0.7273)
    assert {k: v for k, v in body["eligibility"]["unserved_by_reason"].items() if v} == {
        "outside_hours": 1, "cancelled": 1, "no_team_available": 1,
    }  # fmt: skip
    assert body["referrals"] == {"by_resource": {"Hope Crisis Centre": 1}, "free_text": 1}
    # Three asked for follow-up; one completed within 24 h, one late, one still open.
    assert body["follow_up"] == {"needed": 3, "completed_within_due": share(1, 3, 0.3333)}
    # As each intake counted them. People: A (c1, c4), B (c2 after February's c0, c10):
    # c2, c4, c10 repeat. Places: cell 1001 on c1, c3, c5: c3 and c5 repeat.
    assert body["repeat_contacts"] == {
        "window_days": 90,
        "people": share(3, 4, 0.75),
        "places": share(2, 3, 0.6667),
    }
    # On duty 8 h + 8 h + 2 h = 64,800 s; busy 38 min + 48 min = 5,160 s.
    assert body["utilisation"] == {"on_duty_s": 64800, "busy_s": 5160, "rate": 0.0796}


def test_by_week_small_cells_show_under_five_and_their_rates_are_withheld(
    reports: httpx.Client,
) -> None:
    body = report(reports, group_by="week")
    assert body["calls"] == 11  # the whole agency's, exact, beside the groups
    first, second = body["groups"]
    assert (first["key"], second["key"]) == ("2026-W10", "2026-W11")
    assert first["calls"] == 8
    assert first["statuses"] == {"closed": 7, "cancelled": "<5", "referred": 0}
    # Diverted c1, c2, c3 of 6 decided: the count is small, so is the rate withheld.
    assert first["diversion"] == share("<5", 6, None)
    # to offer in week 10: 1,1,1,1,2,2,3,5
    assert first["times"]["to_offer"] == {"count": 8, "p50_s": 60, "p90_s": 300}
    assert first["utilisation"] == {"on_duty_s": 50400, "busy_s": 2280, "rate": 0.0452}
    assert second["calls"] == "<5"
    assert second["times"]["total"] == {"count": "<5", "p50_s": None, "p90_s": None}
    assert second["utilisation"] == {"on_duty_s": 14400, "busy_s": 2880, "rate": 0.2}


def test_by_team_and_by_area(reports: httpx.Client) -> None:
    teams = {g["key"]: g for g in report(reports, group_by="team")["groups"]}
    assert set(teams) == {"clinician", "co_response"}
    clinician = teams["clinician"]
    assert clinician["calls"] == 7 and teams["co_response"]["calls"] == "<5"
    assert clinician["statuses"] == {"closed": 6, "cancelled": "<5", "referred": 0}
    assert clinician["diversion"] == share("<5", 5, None)
    assert clinician["utilisation"] is None
    areas = report(reports, group_by="area")["groups"]
    assert [(g["key"], g["calls"]) for g in areas] == [
        ("none", "<5"),
        ("north", 7),
        ("south", "<5"),
    ]


def test_csv_has_the_whole_agency_then_a_row_a_group(reports: httpx.Client) -> None:
    answer = reports.get(
        "/v1/reports/outcomes",
        params={"from": FROM, "to": TO, "group_by": "month"},
        headers={"Accept": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["key"] for r in rows] == ["all", "2026-03"]
    whole, march = rows
    assert whole["calls"] == "11" and whole["diversion.rate"] == "0.5"
    assert whole["rates.arrest.count"] == "1"
    assert march["rates.arrest.count"] == "<5" and march["rates.arrest.rate"] == ""


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": TO, "to": FROM}, "`to` must be after `from`"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "at most 366 days"),
        ({"from": FROM, "to": TO, "group_by": "shift"}, "group_by"),
        ({"from": "0001-01-01T00:00:00Z", "to": "0001-02-01T00:00:00Z"}, "between 1970 and 9000"),
        ({"from": "2026-03-02", "to": TO}, "from"),
    ],
)
def test_a_bad_query_is_refused_saying_what(
    reports: httpx.Client, params: dict[str, str], says: str
) -> None:
    answer = reports.get("/v1/reports/outcomes", params=params)
    assert answer.status_code == 422, answer.text
    assert says in answer.text


def test_only_supervisors_and_admins_read_the_figures(story: AgencyKit) -> None:
    for role, status in ((Role.admin, 200), (Role.dispatcher, 403), (Role.cad, 403)):
        with story.client(role) as client:
            answer = client.get("/v1/reports/outcomes", params={"from": FROM, "to": TO})
            assert answer.status_code == status, (role, answer.text)


def test_another_agency_sees_none_of_these_calls(server: Any) -> None:
    with new_agency(server).client(Role.supervisor) as other:
        assert report(other)["calls"] == 0


def test_going_on_and_off_duty_keeps_a_duty_period(story: AgencyKit, server: Any) -> None:
    with story.client(Role.dispatcher) as dispatcher:
        made = dispatcher.post("/v1/responders", json={"kind": "peer", "name": "On shift"})
        assert made.status_code == 201, made.text
        rid = made.json()["id"]
        for status in ("available", "out_of_service", "off_duty"):
            moved = dispatcher.put(f"/v1/responders/{rid}/status", json={"status": status})
            assert moved.status_code == 200, moved.text

    def periods(tx: Tx) -> list[tuple[datetime, datetime | None]]:
        rows = tx.session.query(DutyPeriod).filter_by(responder_id=uuid.UUID(rid)).all()
        return [(p.started_at, p.ended_at) for p in rows]

    [(started, ended)] = server.uow.read_sync(periods)
    assert ended is not None and ended >= started


def test_the_docs_diversion_table_is_the_code_s() -> None:
    """docs/outcomes.md, "The figures", states the table the code uses, row for row."""
    text = DOCS.read_text()
    section = text.split("## The figures", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, bool | None] = {}
    for names, verdict in re.findall(r"^\| ([a-z_, ]+) \| (yes|no|left out of the rate) \|$",
                                     section, re.MULTILINE):  # fmt: skip
        for name in names.split(", "):
            documented[name] = {"yes": True, "no": False}.get(verdict)
    assert documented == {d.value: v for d, v in DIVERSION.items()}


def test_whoever_is_on_duty_at_the_upgrade_starts_a_duty_period(tmp_path: Path) -> None:
    """Migration 0012: utilisation counts the on-duty now, not the untracked before."""
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    upgrade(engine, "0011")
    agency, on, off = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO agency (id, slug, name, offer_timeout_s, created_at) "
                "VALUES (:agency, 'a', 'A', 60, '2026-01-01')"
            ),
            {"agency": agency},
        )
        for responder, status in ((on, "available"), (off, "off_duty")):
            connection.execute(
                text(
                    "INSERT INTO responder (id, agency_id, kind, name, credentials, languages, "
                    "skills, status, status_changed_at, created_at) VALUES (:responder, :agency, "
                    "'clinician', 'R', '[]', '[]', '[]', :status, '2026-01-01', '2026-01-01')"
                ),
                {"responder": responder, "agency": agency, "status": status},
            )
    upgrade(engine)
    with engine.connect() as connection:
        periods = connection.execute(text("SELECT responder_id, ended_at FROM duty_period")).all()
    engine.dispose()
    assert [tuple(p) for p in periods] == [(on, None)]


def test_a_call_closed_through_the_api_is_in_the_figures(agency: AgencyKit) -> None:
    """End to end: on duty, a call received 10 minutes ago, accepted, on scene, cleared
    as referred with a free-text referral and follow-up; the server's clock times it."""
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    with agency.client(Role.dispatcher) as desk, agency.client(Role.supervisor) as boss:
        responder(desk, kind="clinician")
        call = post_call(desk, received_at=received.isoformat())
        [aid] = [a["id"] for a in call["assignments"]]
        assert desk.post(f"/v1/assignments/{aid}/accept").status_code == 200
        close = {"status": "cleared", "disposition": "referred",
                 "referral": {"text": "GP practice"}, "follow_up": {"within_h": 24}}  # fmt: skip
        for step in ({"status": "on_scene"}, close):
            moved = desk.post(f"/v1/assignments/{aid}/status", json=step)
            assert moved.status_code == 200, moved.text
        span = {"from": (received - timedelta(hours=1)).isoformat(),
                "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}  # fmt: skip
        body = boss.get("/v1/reports/outcomes", params=span).json()
    assert body["calls"] == 1 and body["statuses"]["closed"] == 1
    assert body["dispositions"]["referred"] == 1
    assert body["diversion"] == share(1, 1, 1.0)
    assert body["referrals"]["free_text"] == 1
    assert body["follow_up"]["needed"] == 1
    assert body["follow_up"]["completed_within_due"] == share(0, 1, 0.0)
    for name, figure in body["times"].items():
        assert figure["count"] == 1 and figure["p50_s"] == figure["p90_s"], name
    # Ten minutes before the server heard of it: received is the CAD's time.
    assert body["times"]["to_offer"]["p50_s"] >= 600
    assert 0 < body["utilisation"]["busy_s"] <= body["utilisation"]["on_duty_s"]
