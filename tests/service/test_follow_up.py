"""Follow-up: a close that asks for it opens a task, offered to clinicians and peers on
duty, claimed by one, completed with an outcome; overdue ones are listed for the desk."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import col

from models.outcome import FollowUp
from models.vocabulary import Role
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder


def closed_with_follow_up(dispatcher: httpx.Client, within_h: int = 24) -> dict[str, Any]:
    call = post_call(dispatcher)
    aid = call["assignments"][0]["id"]
    assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200
    cleared = dispatcher.post(
        f"/v1/assignments/{aid}/status",
        json={"status": "cleared", "disposition": "referred", "follow_up": {"within_h": within_h}},
    )
    assert cleared.status_code == 200, cleared.text
    return call


def make_overdue(agency: AgencyKit, task_id: str) -> None:
    def backdate(tx: Tx) -> None:
        tx.session.execute(
            update(FollowUp)
            .where(col(FollowUp.id) == uuid.UUID(task_id))
            .values(due_at=tx.now - timedelta(hours=1))
        )

    agency.server.uow.write_sync(backdate)


def test_a_follow_up_is_offered_claimed_and_completed_within_its_due_time(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(100))  # takes the call
    peer = responder(dispatcher, kind="peer", at=north_of(2000))
    colleague = responder(dispatcher, kind="clinician", at=north_of(3000))
    responder(dispatcher, kind="clinician", at=north_of(200), status="off_duty")
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR, at=north_of(300))

    with (
        console(agency.server.ws_url, agency.token(Role.responder, responder_id=peer["id"])) as p,
        console(
            agency.server.ws_url, agency.token(Role.responder, responder_id=officer["id"])
        ) as radio,
    ):
        call = closed_with_follow_up(dispatcher)
        offered = p.next_event("follow_up.offered")
        assert [f["type"] for f in radio.drain() if f.get("type") == "event"] == []

    assert offered["data"]["call_id"] == call["id"]
    assert "category" not in offered["data"]
    task_id = offered["data"]["id"]
    with (
        agency.client(Role.responder, responder_id=peer["id"]) as peer_phone,
        agency.client(Role.responder, responder_id=colleague["id"]) as other_phone,
    ):
        assert [t["id"] for t in peer_phone.get("/v1/follow-ups").json()] == [task_id]
        claimed = peer_phone.post(f"/v1/follow-ups/{task_id}/claim")
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["state"] == "claimed"
        assert claimed.json()["responder_id"] == peer["id"]
        assert other_phone.post(f"/v1/follow-ups/{task_id}/claim").status_code in (404, 409)
        assert other_phone.get("/v1/follow-ups").json() == []  # not the queue's any more
        nope = other_phone.post(f"/v1/follow-ups/{task_id}/complete", json={"outcome": "reached"})
        assert nope.status_code in (404, 409)
        bad = peer_phone.post(f"/v1/follow-ups/{task_id}/complete", json={"outcome": "cured"})
        assert bad.status_code == 422
        done = peer_phone.post(
            f"/v1/follow-ups/{task_id}/complete", json={"outcome": "linked_to_care"}
        )
        assert done.status_code == 200, done.text
        again = peer_phone.post(f"/v1/follow-ups/{task_id}/complete", json={"outcome": "reached"})
        assert again.status_code == 409

    task = done.json()
    assert task["outcome"] == "linked_to_care" and task["overdue"] is False
    assert datetime.fromisoformat(task["completed_at"]) <= datetime.fromisoformat(task["due_at"])
    with agency.client(Role.responder, responder_id=officer["id"]) as radio_phone:
        assert radio_phone.get("/v1/follow-ups").status_code == 403


def test_overdue_tasks_are_listed_for_the_desk_and_staff_can_hand_one_out(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician")
    peer = responder(dispatcher, kind="peer", at=north_of(4000))
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR, at=north_of(5000))
    call = closed_with_follow_up(dispatcher, within_h=48)
    [task] = dispatcher.get("/v1/follow-ups").json()
    assert task["call_id"] == call["id"] and task["overdue"] is False
    assert dispatcher.get("/v1/follow-ups", params={"overdue": "true"}).json() == []

    make_overdue(agency, task["id"])

    [late] = supervisor.get("/v1/follow-ups", params={"overdue": "true"}).json()
    assert late["id"] == task["id"] and late["overdue"] is True
    to_officer = dispatcher.post(
        f"/v1/follow-ups/{task['id']}/claim", json={"responder_id": officer["id"]}
    )
    assert to_officer.status_code == 404  # follow-up is care work: clinicians and peers
    handed = dispatcher.post(
        f"/v1/follow-ups/{task['id']}/claim", json={"responder_id": peer["id"]}
    )
    assert handed.status_code == 200 and handed.json()["responder_id"] == peer["id"]
    done = dispatcher.post(f"/v1/follow-ups/{task['id']}/complete", json={"outcome": "not_reached"})
    assert done.status_code == 200
    assert done.json()["overdue"] is False  # completed, if late: the reports count it late
    assert datetime.fromisoformat(done.json()["completed_at"]) > datetime.fromisoformat(
        done.json()["due_at"]
    )
    assert dispatcher.get("/v1/follow-ups", params={"overdue": "true"}).json() == []
    with agency.client(Role.cad) as cad:
        assert cad.get("/v1/follow-ups").status_code == 403
