"""Check-in timers (issue 23 §1): a responder on scene is prompted, checks in, or is
missed; dispatchers see the alarm until they acknowledge it, and the agency's rule
sends backup after the grace."""

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from models.agency import Agency
from models.checkin import LIVE_STATES, Checkin
from models.vocabulary import Role
from service.store.transaction import Tx
from tests.conftest import AgencyKit, new_agency, start_server, stop_server
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, audit_records, north_of, post_call, responder


def _wait_for(check: Any, *, seconds: float = 20) -> Any:
    """Poll until `check()` is truthy; the bound only stops a hang (not a timing test)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _quicken(kit: AgencyKit, *, interval_s: int, grace_s: int, rule: str = "backup") -> None:
    """Shorter than an agency may choose (5 s), so the timers run in a test's time."""

    def shorten(tx: Tx) -> None:
        tx.session.execute(
            update(Agency)
            .where(col(Agency.id) == kit.id)
            .values(
                checkin_interval_s=interval_s, checkin_grace_s=grace_s, checkin_missed_rule=rule
            )
        )

    kit.server.uow.write_sync(shorten)


def _on_scene(kit: AgencyKit, staff: httpx.Client, *, kind: str = "clinician") -> dict[str, Any]:
    """A responder of `kind` on scene at a new call: its id, its assignment, its phone."""
    cit_until = NEXT_YEAR if kind == "officer" else None
    clinician = responder(staff, kind=kind, at=north_of(300), cit_until=cit_until)
    call = post_call(staff)
    aid = call["assignments"][0]["id"]
    assert call["assignments"][0]["responder_id"] == clinician["id"]
    phone = kit.client(Role.responder, responder_id=clinician["id"])
    for step in ("accept", "status"):
        body = {"status": "en_route"} if step == "status" else None
        assert phone.post(f"/v1/assignments/{aid}/{step}", json=body).status_code == 200
    moved = phone.post(f"/v1/assignments/{aid}/status", json={"status": "on_scene"})
    assert moved.status_code == 200, moved.text
    return {"responder": clinician, "assignment_id": aid, "call": call, "phone": phone}


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_clinician_on_scene_is_prompted_after_the_interval_and_checks_in(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    with agency.client(Role.admin) as admin:
        set_ = admin.patch("/v1/agency", json={"checkin_interval_s": 5, "checkin_grace_s": 60})
        assert set_.status_code == 200, set_.text
        assert set_.json()["checkin_interval_s"] == 5
    scene = _on_scene(agency, dispatcher)
    with console(
        agency.server.ws_url, agency.token(Role.responder, responder_id=scene["responder"]["id"])
    ) as mine:
        due = mine.next_event("checkin.due", timeout=20)["data"]["checkin"]
        assert due["assignment_id"] == scene["assignment_id"]
        assert due["responder_id"] == scene["responder"]["id"]
        assert _moment(due["grace_until"]) > _moment(due["due_at"])

        answer = scene["phone"].post(f"/v1/assignments/{scene['assignment_id']}/checkin")

        assert answer.status_code == 200, answer.text
        done = answer.json()
        assert done["checkin"]["id"] == due["id"]
        assert done["checkin"]["state"] == "done"
        assert _moment(done["next_due_at"]) > _moment(done["checkin"]["done_at"])
        assert mine.next_event("checkin.done")["data"]["checkin"]["id"] == due["id"]
        # The timer starts again from the check-in: the next prompt is a new one.
        again = mine.next_event("checkin.due", timeout=20)["data"]["checkin"]
        assert again["id"] != due["id"]
        assert again["due_at"] == done["next_due_at"]
    scene["phone"].close()


def test_checking_in_over_the_socket_answers_the_prompt(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _quicken(agency, interval_s=1, grace_s=60)
    scene = _on_scene(agency, dispatcher)
    token = agency.token(Role.responder, responder_id=scene["responder"]["id"])
    with console(agency.server.ws_url, token) as mine:
        due = mine.next_event("checkin.due", timeout=20)["data"]["checkin"]
        # A reloaded phone finds its prompt over HTTP; a CAD is not shown check-ins.
        own = scene["phone"].get("/v1/checkins", params={"open": "true"}).json()
        assert [c["checkin"]["id"] for c in own] == [due["id"]]
        with agency.client(Role.cad) as cad:
            assert cad.get("/v1/checkins").status_code == 403
        mine.send({"type": "checkin", "assignment_id": scene["assignment_id"]})
        result = mine.next_of_type("result")
        assert result["action"] == "checkin"
        assert result["checkin"]["id"] == due["id"]
        assert result["checkin"]["state"] == "done"
        assert result["next_due_at"]
    open_now = dispatcher.get("/v1/checkins", params={"open": "true"}).json()
    assert due["id"] not in [c["checkin"]["id"] for c in open_now]
    with agency.client(Role.supervisor) as reader:
        trail = audit_records(reader, action="ws checkin")
    assert [(r["outcome"], r["target"]) for r in trail] == [
        ("success", f"assignment:{scene['assignment_id']}")
    ]
    scene["phone"].close()


def test_a_missed_check_in_alarms_dispatchers_until_one_acknowledges(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _quicken(agency, interval_s=1, grace_s=2, rule="alarm")
    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        scene = _on_scene(agency, dispatcher)
        missed = desk.next_event("checkin.missed", timeout=20)["data"]
        escalated = desk.next_event("checkin.escalated")["data"]

        assert missed["checkin"]["assignment_id"] == scene["assignment_id"]
        assert missed["responder"]["id"] == scene["responder"]["id"]
        assert missed["responder"]["kind"] == "clinician"
        assert missed["responder"]["position"]["lat"] == pytest.approx(north_of(300)[0])
        assert missed["call"]["id"] == scene["call"]["id"]
        assert escalated["rule"] == "alarm" and escalated["backup"] == []
        listed = dispatcher.get("/v1/checkins", params={"open": "true"})
        assert listed.status_code == 200, listed.text
        alarm = next(c for c in listed.json() if c["checkin"]["id"] == missed["checkin"]["id"])
        assert alarm["responder"]["name"] == scene["responder"]["name"]

        cid = missed["checkin"]["id"]
        refused = scene["phone"].post(f"/v1/checkins/{cid}/acknowledge")
        assert refused.status_code == 403
        acked = dispatcher.post(f"/v1/checkins/{cid}/acknowledge")
        assert acked.status_code == 200, acked.text
        assert acked.json()["acknowledged_at"]
        event = desk.next_event("checkin.acknowledged")["data"]
        assert event["checkin"]["id"] == cid and event["acknowledged_by"]
    open_now = dispatcher.get("/v1/checkins", params={"open": "true"}).json()
    assert cid not in [c["checkin"]["id"] for c in open_now]
    with agency.client(Role.supervisor) as reader:
        trail = audit_records(reader, action="POST /v1/checkins/{checkin_id}/acknowledge")
    assert [r["outcome"] for r in trail] == ["success", "denied"]
    scene["phone"].close()


def _timer_of(kit: AgencyKit, assignment_id: str) -> Checkin | None:
    """The assignment's live check-in (scheduled or due), as the database holds it."""

    def read(tx: Tx) -> Checkin | None:
        return tx.session.execute(
            select(Checkin).where(
                col(Checkin.assignment_id) == uuid.UUID(assignment_id),
                col(Checkin.state).in_(LIVE_STATES),
            )
        ).scalar_one_or_none()

    return kit.server.uow.read_sync(read)


def test_a_late_check_in_is_recorded_on_the_missed_one_and_the_next_is_due_from_it(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _quicken(agency, interval_s=3, grace_s=2, rule="alarm")
    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        scene = _on_scene(agency, dispatcher)
        aid = scene["assignment_id"]
        missed = desk.next_event("checkin.missed", timeout=20)["data"]["checkin"]
        # The timer schedules the next check-in from the miss before the "I'm OK" comes.
        upcoming = _wait_for(lambda: _timer_of(agency, aid))
        assert upcoming.state == "scheduled"

        answer = scene["phone"].post(f"/v1/assignments/{aid}/checkin")

        assert answer.status_code == 200, answer.text
        late = answer.json()["checkin"]
        assert late["id"] == missed["id"]
        assert late["state"] == "missed" and late["done_at"] and late["by"]
        # The board clears the alarm by the id `checkin.done` carries.
        done = desk.next_event("checkin.done")["data"]["checkin"]
        assert done["id"] == missed["id"] and done["done_at"] == late["done_at"]
        # The same timer goes on, due an interval from the answer rather than the miss.
        prompt = desk.next_event("checkin.due", timeout=20)["data"]["checkin"]
        assert prompt["id"] == str(upcoming.id)
        assert prompt["due_at"] == answer.json()["next_due_at"]
        assert _moment(prompt["due_at"]) > _moment(upcoming.due_at.isoformat())
    # Answered is not acknowledged: the alarm stays open until a dispatcher acknowledges it.
    listed = dispatcher.get("/v1/checkins", params={"open": "true"}).json()
    alarm = next(c["checkin"] for c in listed if c["checkin"]["id"] == missed["id"])
    assert alarm["done_at"] == late["done_at"] and alarm["acknowledged_at"] is None
    acked = dispatcher.post(f"/v1/checkins/{missed['id']}/acknowledge")
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_at"] and acked.json()["done_at"] == late["done_at"]
    scene["phone"].close()


def test_a_late_check_in_during_the_next_prompt_answers_both(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _quicken(agency, interval_s=2, grace_s=3, rule="alarm")
    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        scene = _on_scene(agency, dispatcher)
        aid = scene["assignment_id"]
        missed = desk.next_event("checkin.missed", timeout=20)["data"]["checkin"]
        prompt = desk.next_event("checkin.due", timeout=20)["data"]["checkin"]

        answer = scene["phone"].post(f"/v1/assignments/{aid}/checkin")

        assert answer.status_code == 200, answer.text
        assert answer.json()["checkin"]["id"] == missed["id"]
        done = [desk.next_event("checkin.done")["data"]["checkin"] for _ in range(2)]
        assert [d["id"] for d in done] == [missed["id"], prompt["id"]]
        assert [d["state"] for d in done] == ["missed", "done"]
    upcoming = _timer_of(agency, aid)
    assert upcoming is not None and upcoming.state == "scheduled"
    assert upcoming.id not in {uuid.UUID(missed["id"]), uuid.UUID(prompt["id"])}
    scene["phone"].close()


def test_the_responder_is_prompted_but_never_sees_the_alarm_about_them(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _quicken(agency, interval_s=1, grace_s=2, rule="alarm")
    scene = _on_scene(agency, dispatcher)
    token = agency.token(Role.responder, responder_id=scene["responder"]["id"])
    with (
        console(agency.server.ws_url, token) as mine,
        console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk,
    ):
        desk.next_event("checkin.escalated", timeout=20)
        seen = [f.get("event") for f in mine.drain(1.0)]
    assert "checkin.due" in seen
    assert not {"checkin.missed", "checkin.escalated"} & set(seen)
    scene["phone"].close()


def test_after_the_grace_the_nearest_available_cit_officer_is_offered_backup(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _quicken(agency, interval_s=2, grace_s=2, rule="backup")
    far = responder(dispatcher, kind="officer", at=north_of(5000), cit_until=NEXT_YEAR)
    near = responder(dispatcher, kind="officer", at=north_of(800), cit_until=NEXT_YEAR)
    responder(dispatcher, kind="officer", at=north_of(100))  # no CIT training
    scene = _on_scene(agency, dispatcher)
    with console(
        agency.server.ws_url, agency.token(Role.responder, responder_id=near["id"])
    ) as officer:
        offered = officer.next_event("assignment.offered", timeout=20)["data"]["assignment"]
    assert (offered["role"], offered["purpose"]) == ("backup", "checkin_backup")
    assert offered["call_id"] == scene["call"]["id"]
    escalated = _wait_for(
        lambda: [
            c
            for c in dispatcher.get("/v1/checkins", params={"open": "true"}).json()
            if c["checkin"]["backup"]
        ]
    )[0]
    assert escalated["checkin"]["backup"] == [offered["id"]]
    assert escalated["checkin"]["rule"] == "backup"
    assert dispatcher.get(f"/v1/responders/{far['id']}").json()["status"] == "available"
    scene["phone"].close()


def test_a_responder_cannot_check_in_someone_elses_assignment(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    scene = _on_scene(agency, dispatcher)
    other = responder(dispatcher, kind="clinician", at=north_of(9000))
    with agency.client(Role.responder, responder_id=other["id"]) as stranger:
        refused = stranger.post(f"/v1/assignments/{scene['assignment_id']}/checkin")
    assert refused.status_code == 404
    assert refused.json()["error"] == "NotFound"
    scene["phone"].close()


def test_an_assignment_not_on_scene_cannot_check_in(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    aid = post_call(dispatcher)["assignments"][0]["id"]
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        refused = phone.post(f"/v1/assignments/{aid}/checkin")
    assert refused.status_code == 409
    assert "on scene" in refused.json()["detail"]


def test_bad_settings_are_refused_naming_the_field_and_change_nothing(
    agency: AgencyKit,
) -> None:
    with agency.client(Role.admin) as admin:
        before = admin.get("/v1/agency").json()
        for body, field in (
            ({"checkin_interval_s": 3}, "checkin_interval_s"),
            ({"checkin_grace_s": 5, "checkin_interval_s": 99999}, "checkin_interval_s"),
            ({"checkin_grace_s": 4}, "checkin_grace_s"),
            ({"checkin_missed_rule": "pray"}, "checkin_missed_rule"),
            ({"emergency_backup_count": 11}, "emergency_backup_count"),
            ({"emergency_position_interval_s": 1}, "emergency_position_interval_s"),
            ({"position_report_interval_s": "30"}, "position_report_interval_s"),
            ({"checkin_sound": True}, "checkin_sound"),
        ):
            answer = admin.patch("/v1/agency", json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["error"] == "ValidationError"
            assert field in answer.json()["detail"], answer.json()
        assert admin.get("/v1/agency").json() == before
        off = admin.patch("/v1/agency", json={"checkin_interval_s": 0})
        assert off.status_code == 200 and off.json()["checkin_interval_s"] == 0


def test_every_principal_reads_the_settings_and_only_an_admin_changes_them(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    read = dispatcher.get("/v1/agency")
    assert read.status_code == 200
    assert read.json() == {
        "name": agency.slug,
        "slug": agency.slug,
        "offer_timeout_s": 60,
        "checkin_interval_s": 900,
        "checkin_grace_s": 300,
        "checkin_missed_rule": "backup",
        "emergency_backup_count": 2,
        "emergency_position_interval_s": 5,
        "position_report_interval_s": 30,
    }
    assert dispatcher.patch("/v1/agency", json={"checkin_grace_s": 60}).status_code == 403
    with agency.client(Role.admin) as admin:
        changed = admin.patch(
            "/v1/agency", json={"checkin_grace_s": 60, "checkin_missed_rule": "alarm"}
        )
        assert changed.status_code == 200, changed.text
        records = admin.get("/v1/audit", params={"action": "PATCH /v1/agency"}).json()
    assert records and records[0]["detail"]["new"] == {
        "checkin_grace_s": 60,
        "checkin_missed_rule": "alarm",
    }
    assert records[0]["detail"]["old"] == {"checkin_grace_s": 300, "checkin_missed_rule": "backup"}


def test_the_command_line_sets_the_safety_settings(
    agency: AgencyKit, dispatcher: httpx.Client, cli: Any
) -> None:
    said = cli(
        "agency",
        "update",
        agency.slug,
        "--checkin-interval-s",
        "600",
        "--checkin-grace-s",
        "120",
        "--checkin-missed-rule",
        "alarm",
        "--emergency-backup-count",
        "3",
        "--emergency-position-interval-s",
        "10",
        "--position-report-interval-s",
        "60",
    )
    assert "check-ins every 600 s" in said
    read = dispatcher.get("/v1/agency").json()
    assert (read["checkin_interval_s"], read["checkin_grace_s"], read["checkin_missed_rule"]) == (
        600,
        120,
        "alarm",
    )
    assert (read["emergency_backup_count"], read["emergency_position_interval_s"]) == (3, 10)
    assert read["position_report_interval_s"] == 60


def test_leaving_the_scene_ends_the_timer(agency: AgencyKit, dispatcher: httpx.Client) -> None:
    _quicken(agency, interval_s=2, grace_s=2, rule="alarm")
    scene = _on_scene(agency, dispatcher)
    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        cleared = scene["phone"].post(
            f"/v1/assignments/{scene['assignment_id']}/status",
            json={"status": "cleared", "disposition": "resolved_on_scene"},
        )
        assert cleared.status_code == 200, cleared.text
        seen = [f.get("event") for f in desk.drain(5.0)]
    assert "checkin.missed" not in seen and "checkin.due" not in seen
    scene["phone"].close()


def test_a_restart_between_the_prompt_and_the_deadline_still_alarms_once(tmp_path: Path) -> None:
    own_server = tmp_path
    server = start_server(own_server)
    try:
        kit = new_agency(server)
        _quicken(kit, interval_s=1, grace_s=6, rule="alarm")
        with kit.client(Role.dispatcher) as staff:
            scene = _on_scene(kit, staff)
            token = kit.token(Role.responder, responder_id=scene["responder"]["id"])
            with console(server.ws_url, token) as mine:
                due = mine.next_event("checkin.due", timeout=20)["data"]["checkin"]
            scene["phone"].close()
    finally:
        stop_server(server)
    restarted = start_server(own_server, port=int(server.url.rsplit(":", 1)[1]))
    try:
        kit = AgencyKit(server=restarted, slug=kit.slug, id=kit.id)
        with kit.client(Role.dispatcher) as staff:
            _wait_for(
                lambda: any(c["checkin"]["missed_at"] for c in staff.get("/v1/checkins").json())
            )
            time.sleep(1.0)  # a second tick that must not alarm again
            with console(restarted.ws_url, kit.token(Role.dispatcher), resume_after=0) as desk:
                replay = [f for f in desk.drain(1.0) if f.get("type") == "event"]
        missed = [f for f in replay if f["event"] == "checkin.missed"]
        prompts = [f for f in replay if f["event"] == "checkin.due"]
        # Exactly one prompt and one alarm for it (the next check-in is a new one).
        assert [m["data"]["checkin"]["id"] for m in missed].count(due["id"]) == 1
        assert [p["data"]["checkin"]["id"] for p in prompts].count(due["id"]) == 1
    finally:
        stop_server(restarted)


def test_two_replicas_prompt_alarm_and_send_backup_once(tmp_path: Path) -> None:
    first = start_server(tmp_path, name="a")
    second = None
    try:
        second = start_server(tmp_path, name="b")
        kit = new_agency(first)
        _quicken(kit, interval_s=1, grace_s=2, rule="backup")
        with kit.client(Role.dispatcher) as staff:
            responder(staff, kind="officer", at=north_of(800), cit_until=NEXT_YEAR)
            responder(staff, kind="officer", at=north_of(900), cit_until=NEXT_YEAR)
            scene = _on_scene(kit, staff)
            scene["phone"].close()
            _wait_for(lambda: any(c["checkin"]["backup"] for c in staff.get("/v1/checkins").json()))
            time.sleep(1.0)  # ticks of both replicas that must not act again
            with console(second.ws_url, kit.token(Role.dispatcher), resume_after=0) as desk:
                replay = [f for f in desk.drain(1.0) if f.get("type") == "event"]
        first_checkin = next(f for f in replay if f["event"] == "checkin.due")["data"]["checkin"]
        about_it = [
            f["event"]
            for f in replay
            if f["data"].get("checkin", {}).get("id") == first_checkin["id"]
        ]
        assert about_it == ["checkin.due", "checkin.missed", "checkin.escalated"]
        backups = [
            f
            for f in replay
            if f["event"] == "assignment.offered"
            and f["data"]["assignment"]["purpose"] == "checkin_backup"
        ]
        assert len(backups) == 1
    finally:
        stop_server(first)
        if second is not None:
            stop_server(second)
