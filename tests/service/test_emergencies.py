"""A responder in trouble: the emergency reaches every dispatcher at once, the nearest
available CIT officer is offered backup, and only staff close it."""

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import col

from dispatch.config import DispatchConfig
from models.agency import Agency
from models.vocabulary import Role
from service.emergencies.top_up import top_up_backup
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.console.test_terminal_console import Terminal
from tests.service.consoles import TestConsole, console
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder


def _backup_count(agency: AgencyKit, count: int) -> None:
    def set_count(tx: Tx) -> None:
        tx.session.execute(
            update(Agency).where(col(Agency.id) == agency.id).values(emergency_backup_count=count)
        )

    agency.server.uow.write_sync(set_count)


def _offers(phone: TestConsole) -> list[dict[str, Any]]:
    return [
        f for f in phone.drain() if f.get("type") == "event" and f["event"] == "assignment.offered"
    ]


def test_a_clinician_on_no_call_raises_and_the_nearest_cit_officer_backs_them_up(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician", name="Riley Adeyemi")
    near = responder(dispatcher, kind="officer", at=north_of(800), cit_until=NEXT_YEAR)
    far = responder(dispatcher, kind="officer", at=north_of(4000), cit_until=NEXT_YEAR)
    untrained = responder(dispatcher, kind="officer", at=north_of(100))
    url = agency.server.ws_url

    with (
        console(url, agency.token(Role.dispatcher)) as desk_1,
        console(url, agency.token(Role.dispatcher)) as desk_2,
        console(url, agency.token(Role.supervisor)) as supervisor_desk,
        console(url, agency.token(Role.responder, responder_id=clinician["id"])) as phone,
        console(url, agency.token(Role.responder, responder_id=near["id"])) as near_car,
        console(url, agency.token(Role.responder, responder_id=far["id"])) as far_car,
        console(url, agency.token(Role.responder, responder_id=untrained["id"])) as other_car,
        agency.client(Role.responder, responder_id=clinician["id"]) as own,
    ):
        raised = own.post(f"/v1/responders/{clinician['id']}/emergency")
        assert raised.status_code == 201, raised.text
        emergency = raised.json()

        for desk in (desk_1, desk_2, supervisor_desk):
            frame = desk.next_event("responder.emergency")
            assert frame["data"]["emergency"]["id"] == emergency["id"]
            assert frame["data"]["emergency"]["responder"]["name"] == "Riley Adeyemi"
        assert (
            phone.next_event("responder.emergency")["data"]["emergency"]["id"] == (emergency["id"])
        )
        wanted = phone.next_event("emergency.position_wanted")["data"]
        assert wanted == {"emergency_id": emergency["id"], "interval_s": 5}

        offer = near_car.next_event("assignment.offered")["data"]
        assert offer["assignment"]["role"] == "backup"
        assert offer["call"]["id"] == emergency["call_id"]
        assert _offers(far_car) == []
        assert _offers(other_car) == []

    assert emergency["backup"] == [offer["assignment"]["id"]]
    assert emergency["backup_missing"] is None
    assert emergency["call_made"] is True
    call = dispatcher.get(f"/v1/calls/{emergency['call_id']}").json()
    assert call["priority"] == 1 and call["category"] == "welfare_check"
    assert call["plan"]["team"] == "emergency backup"
    assert [seat["role"] for seat in call["plan"]["seats"]] == ["backup"]
    assert (call["location"]["lat"], call["location"]["lon"]) == (
        clinician["position"]["lat"],
        clinician["position"]["lon"],
    )
    # In trouble and free: offered no other call meanwhile.
    assert dispatcher.get(f"/v1/responders/{clinician['id']}").json()["status"] == (
        "out_of_service"
    )


def test_raised_over_the_socket_on_a_call_backup_comes_to_that_call(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    officer = responder(dispatcher, kind="officer", at=north_of(600), cit_until=NEXT_YEAR)
    call = post_call(dispatcher)
    (seat,) = call["assignments"]
    assert seat["responder_id"] == clinician["id"]
    url = agency.server.ws_url

    with (
        console(url, agency.token(Role.dispatcher)) as desk,
        console(url, agency.token(Role.responder, responder_id=clinician["id"])) as phone,
        console(url, agency.token(Role.responder, responder_id=officer["id"])) as car,
    ):
        phone.send({"type": "accept", "assignment_id": seat["id"]})
        assert phone.next_of_type("result")["assignment"]["state"] == "accepted"
        phone.send({"type": "emergency", "note": "man with a knife at the door"})
        result = phone.next_of_type("result")
        alarm = desk.next_event("responder.emergency")["data"]["emergency"]
        offer = car.next_event("assignment.offered")["data"]

        phone.send({"type": "emergency"})  # a second press: the open one, nothing new
        again = phone.next_of_type("result")

    assert result["action"] == "emergency" and result["created"] is True
    emergency = result["emergency"]
    assert alarm["id"] == emergency["id"]
    assert emergency["call_id"] == call["id"] and emergency["call_made"] is False
    assert emergency["note"] == "man with a knife at the door"
    assert offer["call"]["id"] == call["id"]
    assert offer["assignment"]["role"] == "backup"
    # Two wanted, one CIT officer free: it raises anyway, and says so.
    assert emergency["backup"] == [offer["assignment"]["id"]]
    assert "no CIT officer available: 1 of 2" in emergency["backup_missing"]
    assert again["created"] is False and again["emergency"]["id"] == emergency["id"]
    answer = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency", json={})
    assert answer.status_code == 200 and answer.json()["id"] == emergency["id"]


def test_a_declined_backup_on_the_responders_call_goes_to_the_next_nearest(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician")
    near = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)
    farther = responder(dispatcher, kind="officer", at=north_of(2500), cit_until=NEXT_YEAR)
    call = post_call(dispatcher)
    (seat,) = call["assignments"]
    assert dispatcher.post(f"/v1/assignments/{seat['id']}/accept").status_code == 200
    emergency = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency").json()
    (first,) = emergency["backup"]
    assert dispatcher.get(f"/v1/assignments/{first}").json()["responder_id"] == near["id"]
    with agency.client(Role.responder, responder_id=near["id"]) as car:
        assert car.post(f"/v1/assignments/{first}/decline").status_code == 200

    # The server's backup timer (every second) offers it to the next nearest.
    deadline = time.monotonic() + 15
    now = dispatcher.get(f"/v1/emergencies/{emergency['id']}").json()
    while len(now["backup"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        now = dispatcher.get(f"/v1/emergencies/{emergency['id']}").json()
    assert now["backup"][0] == first and len(now["backup"]) == 2, now
    second = dispatcher.get(f"/v1/assignments/{now['backup'][1]}").json()
    assert (second["responder_id"], second["call_id"]) == (farther["id"], call["id"])
    assert second["role"] == "backup" and second["state"] == "offered"
    agency.server.uow.write_sync(top_up_backup, limit=10, config=DispatchConfig())
    assert len(dispatcher.get(f"/v1/emergencies/{emergency['id']}").json()["backup"]) == 2


def test_positions_during_an_emergency_move_it_on_every_dispatchers_board(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    url = agency.server.ws_url
    with agency.client(Role.responder, responder_id=clinician["id"]) as own:
        emergency = own.post(
            f"/v1/responders/{clinician['id']}/emergency", json={"lat": 40.13, "lon": -75.34}
        ).json()
        assert emergency["backup"] == [] and "no CIT officer" in emergency["backup_missing"]
        assert emergency["position"]["lat"] == 40.13
        with (
            console(url, agency.token(Role.dispatcher)) as desk,
            console(url, agency.token(Role.responder, responder_id=clinician["id"])) as phone,
        ):
            phone.send({"type": "position", "lat": 40.14, "lon": -75.35})
            assert phone.next_of_type("result")["action"] == "position"
            moved = desk.next_event("responder.position_changed")["data"]
            assert moved == {"responder_id": clinician["id"], "lat": 40.14, "lon": -75.35}
        seen = dispatcher.get(f"/v1/emergencies/{emergency['id']}").json()
        assert (seen["position"]["lat"], seen["position"]["lon"]) == (40.14, -75.35)
        assert own.get("/v1/emergencies?open=true").json()[0]["id"] == emergency["id"]


def test_only_staff_close_an_emergency_and_who_closed_it_is_recorded(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    officer = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)
    url = agency.server.ws_url
    with agency.client(Role.responder, responder_id=clinician["id"]) as own:
        emergency = own.post(f"/v1/responders/{clinician['id']}/emergency").json()
        refused = own.post(f"/v1/emergencies/{emergency['id']}/close")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "Forbidden"

    open_ids = [e["id"] for e in dispatcher.get("/v1/emergencies?open=true").json()]
    assert emergency["id"] in open_ids
    with (
        console(url, agency.token(Role.dispatcher)) as desk,
        console(url, agency.token(Role.responder, responder_id=officer["id"])) as car,
    ):
        closed = dispatcher.post(f"/v1/emergencies/{emergency['id']}/close")
        assert closed.status_code == 200, closed.text
        assert desk.next_event("emergency.closed")["data"]["emergency"]["closed_by"] == (
            "dispatcher"
        )
        withdrawn = car.next_event("assignment.cancelled")["data"]
    assert closed.json()["closed_by"] == "dispatcher" and closed.json()["closed_at"]
    assert withdrawn["assignment"]["id"] == emergency["backup"][0]
    # Nobody took the emergency call: it is cancelled, and the officer is free again.
    assert dispatcher.get(f"/v1/calls/{emergency['call_id']}").json()["status"] == "cancelled"
    assert dispatcher.get(f"/v1/responders/{officer['id']}").json()["status"] == "available"
    assert emergency["id"] not in [
        e["id"] for e in dispatcher.get("/v1/emergencies?open=true").json()
    ]
    assert dispatcher.post(f"/v1/emergencies/{emergency['id']}/close").status_code == 409
    # The emergency call is not the programme's: not in its figures, nor unserved.
    with agency.client(Role.supervisor) as supervisor:
        received = dispatcher.get(f"/v1/calls/{emergency['call_id']}").json()["received_at"]
        day = datetime.fromisoformat(received).date()
        span = {"from": f"{day}T00:00:00Z", "to": f"{day + timedelta(days=2)}T00:00:00Z"}
        figures = supervisor.get("/v1/reports/outcomes", params=span)
        assert figures.status_code == 200, figures.text
        assert figures.json()["calls"] == 0
        unserved = supervisor.get("/v1/reports/unserved", params=span)
        assert unserved.status_code == 200, unserved.text
        assert unserved.json()["total"] == 0 and unserved.json()["calls"] == []


def test_bad_raises_are_refused_and_nothing_is_raised(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    other = responder(dispatcher, kind="peer")
    path = f"/v1/responders/{clinician['id']}/emergency"

    unknown = dispatcher.post(f"/v1/responders/{uuid.uuid4()}/emergency")
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotFound"
    with agency.client(Role.responder, responder_id=other["id"]) as someone_else:
        assert someone_else.post(path).status_code == 403
    with agency.client(Role.cad) as cad:
        assert cad.post(path).status_code == 403
    for body in ({"lat": 91, "lon": 0}, {"lat": 40.1}, {"lon": "x", "lat": 40}, {"x": 1}):
        bad = dispatcher.post(path, json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["error"] == "ValidationError"
    assert dispatcher.get("/v1/emergencies?open=true").json() == []
    assert dispatcher.get(f"/v1/emergencies/{uuid.uuid4()}").status_code == 404

    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        desk.send({"type": "emergency"})
        refused = desk.next_of_type("error")
    assert refused["error"] == "Forbidden" and refused["action"] == "emergency"


def test_sos_on_the_terminal_raises_it_and_a_dispatchers_terminal_reads_it(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", name="Sam Okafor")
    responder(dispatcher, kind="officer", at=north_of(700), cit_until=NEXT_YEAR)
    own = Terminal(agency.server, agency.token(Role.responder, responder_id=clinician["id"]))
    desk = Terminal(agency.server, agency.token(Role.dispatcher))
    try:
        # A process's start: slow on a busy two-core machine (the time only stops a hang).
        own.wait_for(r"connected as responder", within_s=90)
        desk.wait_for(r"connected as dispatcher", within_s=90)
        own.type("sos kitchen, two people")
        own.wait_for(r"position wanted every 5 s")
        own.wait_for(r"ok: emergency raised · Sam Okafor at [\d.]+, -[\d.]+ · call \w{8}")
        desk.wait_for(
            r"!!! EMERGENCY Sam Okafor at .* · 1 of 2 backup offered "
            r"\(no CIT officer available: 1 of 2 backup offered\) · 'kitchen, two people'"
        )
        own.type("sos")
        own.wait_for(r"ok: emergency already open · Sam Okafor")
        desk.type("sos")
        desk.wait_for(r"error: Forbidden: only a responder's console raises its own emergency")
    finally:
        assert own.close() == 0
        assert desk.close() == 0
