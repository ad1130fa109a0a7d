"""The structured close: what the last clear carries, the close record it writes in the
same transaction, the combinations refused, and a dispatcher's amendments after it."""

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from h3.api import basic_int as h3

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import (
    NEXT_YEAR,
    NORRISTOWN,
    audit_records,
    north_of,
    post_call,
    responder,
)


def place(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A resource in the directory (a supervisor's or admin's client)."""
    body = {
        "name": "Crisis Centre",
        "kind": "crisis_centre",
        "location": {"lat": north_of(1500)[0], "lon": north_of(1500)[1]},
        **fields,
    }
    created = client.post("/v1/resources", json=body)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


def on_scene(dispatcher: httpx.Client, **call: Any) -> tuple[dict[str, Any], list[str]]:
    """A call whose every assignment is on scene (accepted and reported by the desk)."""
    created = post_call(dispatcher, **call)
    ids = [a["id"] for a in created["assignments"]]
    for aid in ids:
        assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200
        moved = dispatcher.post(f"/v1/assignments/{aid}/status", json={"status": "on_scene"})
        assert moved.status_code == 200, moved.text
    return created, ids


def clear(client: httpx.Client, aid: str, **body: Any) -> httpx.Response:
    return client.post(f"/v1/assignments/{aid}/status", json={"status": "cleared", **body})


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def admin(agency: AgencyKit) -> httpx.Client:
    return agency.client(Role.admin)


def test_a_transport_with_referral_and_follow_up_is_recorded_with_the_close(
    agency: AgencyKit, dispatcher: httpx.Client, admin: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(600))
    centre = place(admin, name="Beech St Crisis Centre")
    clinic = place(admin, name="Main St Clinic", kind="outpatient_clinic")
    call, [aid] = on_scene(dispatcher, age_group="adult")

    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        closed = clear(
            dispatcher,
            aid,
            disposition="transported_crisis_centre",
            destination_id=centre["id"],
            referral={"resource_id": clinic["id"]},
            backup_requested=False,
            follow_up={"within_h": 24},
        )
        assert closed.status_code == 200, closed.text
        opened = desk.next_event("follow_up.opened")

    outcome = dispatcher.get(f"/v1/calls/{call['id']}/outcome").json()
    assert outcome["status"] == "closed"
    assert outcome["disposition"] == "transported_crisis_centre"
    assert outcome["destination_id"] == centre["id"]
    assert outcome["referral_id"] == clinic["id"]
    assert outcome["referral_text"] is None
    assert outcome["backup_requested"] is False
    assert outcome["officer_on_call"] is False
    assert outcome["team"] == call["plan"]["team"]
    final = dispatcher.get(f"/v1/calls/{call['id']}").json()
    stamps = final["assignments"][0]
    assert outcome["first_offer_at"] == stamps["offered_at"]
    assert outcome["first_accept_at"] == stamps["accepted_at"]
    assert outcome["first_on_scene_at"] == stamps["on_scene_at"]
    assert outcome["closed_at"] == final["closed_at"]
    due = moment(outcome["follow_up_due_at"])
    assert due == moment(final["closed_at"]) + timedelta(hours=24)
    assert opened["data"]["call_id"] == call["id"]
    assert moment(opened["data"]["due_at"]) == due


def test_a_plain_clear_still_closes_and_records_the_disposition_alone(
    dispatcher: httpx.Client,
) -> None:
    responder(dispatcher, kind="clinician")
    call, [aid] = on_scene(dispatcher)

    assert clear(dispatcher, aid, disposition="resolved_on_scene").status_code == 200

    outcome = dispatcher.get(f"/v1/calls/{call['id']}/outcome").json()
    assert outcome["disposition"] == "resolved_on_scene"
    assert outcome["referral_id"] is None and outcome["follow_up_due_at"] is None
    assert dispatcher.get("/v1/follow-ups").json() == []


def test_free_text_referral_and_backup_default_to_the_close_time(
    dispatcher: httpx.Client,
) -> None:
    responder(dispatcher, kind="clinician")
    call, [aid] = on_scene(dispatcher)

    closed = clear(
        dispatcher,
        aid,
        disposition="referred",
        referral={"text": "St Mary's food pantry"},
        backup_requested=True,
    )

    assert closed.status_code == 200, closed.text
    outcome = dispatcher.get(f"/v1/calls/{call['id']}/outcome").json()
    assert outcome["referral_text"] == "St Mary's food pantry"
    assert outcome["backup_requested"] is True
    assert outcome["backup_requested_at"] == outcome["closed_at"]


def _refused_and_nothing_written(
    dispatcher: httpx.Client, call: dict[str, Any], aid: str, answer: httpx.Response, said: str
) -> None:
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["detail"]
    assert dispatcher.get(f"/v1/assignments/{aid}").json()["state"] == "on_scene"
    assert dispatcher.get(f"/v1/calls/{call['id']}").json()["status"] == "dispatched"
    assert dispatcher.get(f"/v1/calls/{call['id']}/outcome").status_code == 404


def test_bad_combinations_are_refused_with_why_and_nothing_is_written(
    dispatcher: httpx.Client,
    admin: httpx.Client,
    make_agency: Any,
) -> None:
    responder(dispatcher, kind="clinician")
    centre = place(admin)
    with make_agency().client(Role.admin) as elsewhere:
        theirs = place(elsewhere, name="Their Centre")
    call, [aid] = on_scene(dispatcher)

    cases = [
        (
            {"disposition": "transported_crisis_centre", "destination_id": theirs["id"]},
            "no resource",
        ),
        (
            {"disposition": "transported_ed", "destination_id": centre["id"]},
            "emergency_department",
        ),
        ({"disposition": "referred", "destination_id": centre["id"]}, "destination_id goes"),
        ({"disposition": "arrest"}, "arrest needs an officer"),
        ({"disposition": "referred", "referral": {"resource_id": theirs["id"]}}, "no resource"),
        (
            {"disposition": "referred", "backup_requested_at": "2026-01-01T00:00:00Z"},
            "backup_requested",
        ),
    ]
    for body, said in cases:
        _refused_and_nothing_written(dispatcher, call, aid, clear(dispatcher, aid, **body), said)

    both = clear(
        dispatcher, aid, disposition="referred", referral={"resource_id": centre["id"], "text": "x"}
    )
    assert both.status_code == 422 and "not both" in both.text


def test_an_arrest_closes_when_an_officer_was_on_the_call(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    responder(dispatcher, kind="clinician")
    call, ids = on_scene(dispatcher, weapon=True)
    assert len(ids) == 2
    # The first clear is not the close: its parts would be lost, so they are refused.
    early = clear(dispatcher, ids[0], follow_up={"within_h": 48})
    assert early.status_code == 422 and "last responder" in early.json()["detail"]
    assert clear(dispatcher, ids[0]).status_code == 200

    closed = clear(dispatcher, ids[1], disposition="arrest", backup_requested=True)

    assert closed.status_code == 200, closed.text
    outcome = dispatcher.get(f"/v1/calls/{call['id']}/outcome").json()
    assert outcome["officer_on_call"] is True
    assert outcome["disposition"] == "arrest"


def test_an_earlier_clear_keeps_its_responders_disposition_and_the_call_the_last_ones(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    responder(dispatcher, kind="clinician")
    call, [first, last] = on_scene(dispatcher, weapon=True)

    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        early = clear(dispatcher, first, disposition="referred")
        assert early.status_code == 200, early.text
        assert early.json()["disposition"] == "referred"  # kept, not dropped
        cleared = desk.next_event("assignment.cleared")
        assert cleared["data"]["assignment"]["disposition"] == "referred"
    still = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert still["status"] == "dispatched" and still["disposition"] is None

    assert clear(dispatcher, last, disposition="transported_crisis_centre").status_code == 200
    closed = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert closed["disposition"] == "transported_crisis_centre"  # the last clear's
    kept = {a["id"]: a["disposition"] for a in closed["assignments"]}
    assert kept == {first: "referred", last: "transported_crisis_centre"}


def test_a_dispatcher_adds_to_the_close_afterwards_and_it_is_audited(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client, admin: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician")
    ed = place(admin, name="Riddle ED", kind="emergency_department")
    call, [aid] = on_scene(dispatcher)
    assert clear(dispatcher, aid, disposition="referred").status_code == 200
    url = f"/v1/calls/{call['id']}/outcome"

    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        amended = dispatcher.patch(
            url,
            json={
                "disposition": "transported_ed",
                "destination_id": ed["id"],
                "follow_up": {"within_h": 72},
            },
        )
        assert amended.status_code == 200, amended.text
        event = desk.next_event("call.outcome_amended")

    assert amended.json()["disposition"] == "transported_ed"
    assert amended.json()["destination_id"] == ed["id"]
    assert dispatcher.get(f"/v1/calls/{call['id']}").json()["disposition"] == "transported_ed"
    assert event["data"]["changed"] == ["destination_id", "disposition", "follow_up"]
    [task] = dispatcher.get("/v1/follow-ups").json()
    assert task["call_id"] == call["id"]
    trail = audit_records(supervisor, target=f"call:{call['id']}")
    assert any(r["detail"] and r["detail"].get("destination_id") == ed["id"] for r in trail)
    # The whole close is checked again: an arrest without an officer is still refused.
    refused = dispatcher.patch(url, json={"disposition": "arrest", "destination_id": None})
    assert refused.status_code == 422 and "officer" in refused.json()["detail"]
    # And a disposition without transport cannot keep the destination.
    kept = dispatcher.patch(url, json={"disposition": "referred"})
    assert kept.status_code == 422 and "destination_id" in kept.json()["detail"]
    cleared = dispatcher.patch(url, json={"disposition": "referred", "destination_id": None})
    assert cleared.status_code == 200 and cleared.json()["destination_id"] is None
    responder_token = agency.client(Role.cad)
    assert responder_token.patch(url, json={"backup_requested": True}).status_code == 403


def test_cancelled_and_referred_calls_get_a_record_without_disposition(
    dispatcher: httpx.Client, programme: Any
) -> None:
    responder(dispatcher, kind="clinician")
    call = post_call(dispatcher)
    assert (
        dispatcher.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "fine"}).status_code
        == 200
    )

    outcome = dispatcher.get(f"/v1/calls/{call['id']}/outcome").json()
    assert outcome["status"] == "cancelled" and outcome["disposition"] is None
    assert outcome["first_offer_at"] is not None
    late = dispatcher.patch(f"/v1/calls/{call['id']}/outcome", json={"backup_requested": True})
    assert late.status_code == 409

    programme(
        {
            "timezone": "America/New_York",
            "rules": [{"name": "police only", "send": "police"}],
        }
    )
    referred = post_call(dispatcher)
    record = dispatcher.get(f"/v1/calls/{referred['id']}/outcome").json()
    assert record["status"] == "referred" and record["team"] == "police"
    assert record["first_offer_at"] is None


def test_the_record_keeps_the_programme_area_and_the_place_cell(
    dispatcher: httpx.Client, programme: Any
) -> None:
    lat, lon = NORRISTOWN
    square = [[lon - 0.01, lat - 0.01], [lon + 0.01, lat - 0.01], [lon + 0.01, lat + 0.01]]
    square.append([lon - 0.01, lat + 0.01])
    programme(
        {
            "timezone": "America/New_York",
            "areas": {"norristown": {"type": "Polygon", "coordinates": [[*square, square[0]]]}},
            "teams": {"clinician": {"seats": [{"kind": "clinician"}]}},
            "rules": [{"name": "everyone", "send": "clinician"}],
        }
    )
    responder(dispatcher, kind="clinician")
    inside, [aid] = on_scene(dispatcher)
    assert clear(dispatcher, aid, disposition="no_contact").status_code == 200
    outside = post_call(dispatcher, at=north_of(5000))
    dispatcher.post(f"/v1/calls/{outside['id']}/cancel", json={"reason": "duplicate"})

    record = dispatcher.get(f"/v1/calls/{inside['id']}/outcome").json()
    assert record["area"] == "norristown" and record["team"] == "clinician"
    assert dispatcher.get(f"/v1/calls/{outside['id']}/outcome").json()["area"] is None
    assert record["place_cell"] == h3.latlng_to_cell(lat, lon, 8)


def test_calls_referred_to_police_after_intake_get_their_record(
    dispatcher: httpx.Client, programme: Any
) -> None:
    """By a fallback and by an update whose new rule sends police."""
    from tests.service.test_programme_rules import wait_for

    programme(
        {
            "timezone": "UTC",
            "teams": {"solo": {"seats": [{"kind": "peer"}]}},
            "rules": [
                {"name": "armed", "when": {"risk_any": ["weapon"]}, "send": "police"},
                {
                    "name": "the rest",
                    "send": "solo",
                    "fallback": [{"after_s": 1, "send": "police"}],
                },
            ],
        }
    )
    responder(dispatcher, kind="peer")
    waited = post_call(dispatcher)  # offered to the peer, who does not answer: police
    assert waited["status"] == "dispatched"
    wait_for(
        lambda: dispatcher.get(f"/v1/calls/{waited['id']}").json(),
        lambda c: c["status"] == "referred",
    )
    record = dispatcher.get(f"/v1/calls/{waited['id']}/outcome").json()
    assert record["status"] == "referred" and record["team"] == "police"
    updated = post_call(dispatcher)  # the peer, stood down, is offered this one
    assert updated["status"] == "dispatched"
    armed = dispatcher.patch(f"/v1/calls/{updated['id']}", json={"risk": {"weapon": True}})
    assert armed.status_code == 200 and armed.json()["status"] == "referred", armed.text
    record = dispatcher.get(f"/v1/calls/{updated['id']}/outcome").json()
    assert record["status"] == "referred" and record["team"] == "police"
