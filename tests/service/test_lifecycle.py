"""From the offer to the disposition: progress, closing, cancelling and expiry."""

import time
from typing import Any

import httpx

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder


def _wait_for(check: Any, *, seconds: float = 10) -> Any:
    """Poll until `check()` is truthy; the bound only stops a hang (not a timing test)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _progress(client: httpx.Client, assignment_id: str, **body: Any) -> httpx.Response:
    return client.post(f"/v1/assignments/{assignment_id}/status", json=body)


def test_clinician_goes_en_route_on_scene_and_clears_closing_the_call(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(700))
    call = post_call(dispatcher)
    aid = call["assignments"][0]["id"]

    with (
        agency.client(Role.responder, responder_id=clinician["id"]) as phone,
        console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk,
    ):
        assert phone.post(f"/v1/assignments/{aid}/accept").status_code == 200
        assert _progress(phone, aid, status="en_route").json()["state"] == "en_route"
        board = dispatcher.get(f"/v1/responders/{clinician['id']}").json()
        assert board["status"] == "en_route"
        assert _progress(phone, aid, status="on_scene").json()["state"] == "on_scene"
        cleared = _progress(phone, aid, status="cleared", disposition="referred")
        assert cleared.status_code == 200, cleared.text
        closed = desk.next_event("call.closed")

    assert closed["data"] == {
        "id": call["id"],
        "status": "closed",
        "disposition": "referred",
        "diverted_from_arrest": True,
    }
    final = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert final["status"] == "closed"
    assert final["disposition"] == "referred"
    stamps = final["assignments"][0]
    times = [stamps[k] for k in ("offered_at", "accepted_at", "en_route_at", "on_scene_at")]
    assert times == sorted(times)
    assert stamps["cleared_at"] >= stamps["on_scene_at"]
    assert final["closed_at"] == stamps["cleared_at"]  # closed by the last clear, at once
    assert dispatcher.get(f"/v1/responders/{clinician['id']}").json()["status"] == "available"


def test_the_last_to_clear_must_say_how_the_call_ended(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="clinician")
    aid = post_call(dispatcher)["assignments"][0]["id"]
    dispatcher.post(f"/v1/assignments/{aid}/accept")

    refused = _progress(dispatcher, aid, status="cleared")

    assert refused.status_code == 422
    assert "disposition" in refused.json()["detail"]
    assert dispatcher.get(f"/v1/assignments/{aid}").json()["state"] == "accepted"


def test_a_co_response_closes_only_when_both_have_cleared(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    responder(dispatcher, kind="clinician")
    call = post_call(dispatcher, weapon=True)
    officer, clinician = (a["id"] for a in call["assignments"])
    for aid in (officer, clinician):
        dispatcher.post(f"/v1/assignments/{aid}/accept")

    assert _progress(dispatcher, officer, status="cleared").status_code == 200
    assert dispatcher.get(f"/v1/calls/{call['id']}").json()["status"] == "dispatched"
    done = _progress(dispatcher, clinician, status="cleared", disposition="transported_ed")
    assert done.status_code == 200
    assert dispatcher.get(f"/v1/calls/{call['id']}").json()["status"] == "closed"


def test_progress_never_goes_backwards_nor_skips_the_answer(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="clinician")
    aid = post_call(dispatcher)["assignments"][0]["id"]

    not_yet = _progress(dispatcher, aid, status="on_scene")
    assert not_yet.status_code == 409
    assert "offered" in not_yet.json()["detail"]
    dispatcher.post(f"/v1/assignments/{aid}/accept")
    assert _progress(dispatcher, aid, status="on_scene").status_code == 200
    assert _progress(dispatcher, aid, status="en_route").status_code == 409
    assert _progress(dispatcher, aid, status="arrived").status_code == 422


def test_progress_over_the_socket(agency: AgencyKit, dispatcher: httpx.Client) -> None:
    clinician = responder(dispatcher, kind="clinician")
    aid = post_call(dispatcher)["assignments"][0]["id"]
    token = agency.token(Role.responder, responder_id=clinician["id"])

    with console(agency.server.ws_url, token) as phone:
        phone.send({"type": "accept", "assignment_id": aid})
        assert phone.next_of_type("result")["assignment"]["state"] == "accepted"
        phone.send({"type": "status", "assignment_id": aid, "status": "en_route"})
        assert phone.next_of_type("result")["assignment"]["state"] == "en_route"
        phone.send({"type": "status", "assignment_id": aid, "status": "cleared"})
        refused = phone.next_of_type("error")
        assert refused["error"] == "ValidationError"  # a rule's 422, named as every 422


def test_a_cancelled_call_frees_its_responders(agency: AgencyKit, dispatcher: httpx.Client) -> None:
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    clinician = responder(dispatcher, kind="clinician")
    call = post_call(dispatcher, violence=True)
    dispatcher.post(f"/v1/assignments/{call['assignments'][0]['id']}/accept")

    cancelled = dispatcher.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "duplicate"})

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert {a["state"] for a in cancelled.json()["assignments"]} == {"cancelled"}
    for person in (officer, clinician):
        assert dispatcher.get(f"/v1/responders/{person['id']}").json()["status"] == "available"
    again = dispatcher.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "again"})
    assert again.status_code == 409
    with agency.client(Role.responder, responder_id=officer["id"]) as car:
        assert car.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "x"}).status_code == 403


def test_unanswered_offers_expire_down_the_list_and_the_call_waits_pending(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    agency.set_offer_timeout(1)
    people = [responder(dispatcher, kind="clinician", at=north_of(d)) for d in (100, 900, 3000)]
    call = post_call(dispatcher)

    def all_expired() -> dict[str, Any] | None:
        seen = dispatcher.get(f"/v1/calls/{call['id']}").json()
        states = [a["state"] for a in seen["assignments"]]
        return seen if states == ["expired"] * 3 else None

    final = _wait_for(all_expired)
    assert [a["responder_id"] for a in final["assignments"]] == [p["id"] for p in people]
    assert final["status"] == "pending"
    assert final["plan"]["missing"] == ["clinician"]
    for person in people:
        assert dispatcher.get(f"/v1/responders/{person['id']}").json()["status"] == "available"


def test_an_expired_offer_cannot_be_accepted(agency: AgencyKit, dispatcher: httpx.Client) -> None:
    agency.set_offer_timeout(1)
    responder(dispatcher, kind="clinician")
    aid = post_call(dispatcher)["assignments"][0]["id"]
    time.sleep(1.1)

    late = dispatcher.post(f"/v1/assignments/{aid}/accept")

    assert late.status_code == 409
    assert "expired" in late.json()["detail"]


def test_declines_go_down_the_list_until_nobody_is_left_and_the_call_waits(
    dispatcher: httpx.Client,
) -> None:
    people = [responder(dispatcher, kind="clinician", at=north_of(d)) for d in (100, 900, 3000)]
    call = post_call(dispatcher)

    for expected in people:
        offered = [
            a
            for a in dispatcher.get(f"/v1/calls/{call['id']}").json()["assignments"]
            if a["state"] == "offered"
        ]
        assert [a["responder_id"] for a in offered] == [expected["id"]]
        assert dispatcher.post(f"/v1/assignments/{offered[0]['id']}/decline").status_code == 200

    final = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert [a["state"] for a in final["assignments"]] == ["declined"] * 3
    assert final["status"] == "pending"
    assert final["plan"]["missing"] == ["clinician"]
