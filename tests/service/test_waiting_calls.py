"""Calls that wait for a free responder get one the moment one frees up."""

import httpx

from tests.service.factories import NEXT_YEAR, north_of, post_call, responder


def test_a_waiting_call_goes_to_the_first_clinician_who_comes_on_duty(
    dispatcher: httpx.Client,
) -> None:
    call = post_call(dispatcher)
    assert call["status"] == "pending"
    assert call["plan"]["missing"] == ["clinician"]

    clinician = responder(dispatcher, kind="clinician", at=north_of(2500))

    assert clinician["status"] == "offered"
    seen = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert seen["status"] == "dispatched"
    assert [a["responder_id"] for a in seen["assignments"]] == [clinician["id"]]


def test_a_freed_clinician_goes_to_the_most_urgent_waiting_call(dispatcher: httpx.Client) -> None:
    busy = responder(dispatcher, kind="clinician")
    first = post_call(dispatcher)
    routine = post_call(dispatcher, priority=4, at=north_of(100))
    urgent = post_call(dispatcher, priority=1, at=north_of(6000))
    assert routine["status"] == urgent["status"] == "pending"

    aid = first["assignments"][0]["id"]
    dispatcher.post(f"/v1/assignments/{aid}/accept")
    cleared = dispatcher.post(
        f"/v1/assignments/{aid}/status", json={"status": "cleared", "disposition": "referred"}
    )
    assert cleared.status_code == 200

    assert dispatcher.get(f"/v1/calls/{urgent['id']}").json()["status"] == "dispatched"
    assert dispatcher.get(f"/v1/calls/{routine['id']}").json()["status"] == "pending"
    assert dispatcher.get(f"/v1/responders/{busy['id']}").json()["status"] == "offered"


def test_cancelling_a_call_frees_its_officer_for_a_waiting_co_response(
    dispatcher: httpx.Client,
) -> None:
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    responder(dispatcher, kind="clinician")
    responder(dispatcher, kind="clinician", at=north_of(800))
    first = post_call(dispatcher, weapon=True)
    waiting = post_call(dispatcher, violence=True, at=north_of(900))
    assert waiting["plan"]["missing"] == ["officer"]

    dispatcher.post(f"/v1/calls/{first['id']}/cancel", json={"reason": "duplicate of another"})

    seen = dispatcher.get(f"/v1/calls/{waiting['id']}").json()
    assert seen["status"] == "dispatched"
    officers = [a for a in seen["assignments"] if a["role"] == "officer"]
    assert [a["responder_id"] for a in officers] == [officer["id"]]
