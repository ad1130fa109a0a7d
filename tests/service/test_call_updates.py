"""A call updated after intake, over real HTTP: what was learned since changes the call,
and a changed classification plans it again by the programme, with the ledger told."""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from models.vocabulary import Role
from tests.conftest import AgencyKit, new_agency, start_server, stop_server
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, call_body, north_of, responder
from tests.service.test_programme_rules import (
    HEART,
    example,
    heart_call,
    staff,
    unserved,
    wait_for,
)


def patch(client: httpx.Client, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.patch(f"/v1/calls/{call_id}", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_weapon_reported_on_a_heart_call_brings_co_response_and_is_unserved_escalated(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example())
    people = staff(dispatcher, "clinician", "peer", "medic", "officer")
    call = heart_call(dispatcher)
    mine = {a["role"]: a for a in call["assignments"]}
    assert dispatcher.post(f"/v1/assignments/{mine['clinician']['id']}/accept").status_code == 200

    after = patch(dispatcher, call["id"], {"risk": {"weapon": True}})

    assert after["risk"] == {"weapon": True, "violence": False, "medical": False}
    assert (after["plan"]["rule"], after["plan"]["team"]) == ("armed or violent", "co_response")
    assert [(t["from_team"], t["to_team"], t["reason"]) for t in after["plan"]["taken"]] == [
        ("heart", "co_response", "escalated_by_risk")
    ]
    assert "updated: weapon reported: co_response sent instead" in after["plan"]["reason"]
    assert f'(rule "{HEART}" gave way to "armed or violent")' in after["plan"]["reason"]
    states = {(a["role"], a["team"], a["state"]) for a in after["assignments"]}
    assert ("clinician", "co_response", "accepted") in states  # kept their seat
    assert ("peer", "heart", "cancelled") in states and ("medic", "heart", "cancelled") in states
    officer = next(a for a in after["assignments"] if a["role"] == "officer")
    assert officer["responder_id"] == people["officer 3"]["id"] and officer["state"] == "offered"
    assert after["plan"]["fallback"] == [] and after["plan"]["fallback_at"] is None
    assert unserved(supervisor, call["id"]) == [(HEART, "heart", "escalated_by_risk")]
    board = {r["id"]: r["status"] for r in dispatcher.get("/v1/responders").json()}
    assert board[people["peer 1"]["id"]] == board[people["medic 2"]["id"]] == "available"


def test_a_call_reclassified_without_a_new_flag_changes_team_but_is_not_unserved(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example())
    staff(dispatcher, "clinician", "peer", "medic", "officer")
    call = heart_call(dispatcher)
    after = patch(dispatcher, call["id"], {"category": "overdose"})
    assert (after["plan"]["rule"], after["plan"]["team"]) == ("overdose", "co_response")
    assert after["plan"]["ems"] is True
    assert [t["reason"] for t in after["plan"]["taken"]] == ["reclassified"]
    assert "updated: reclassified: co_response sent instead" in after["plan"]["reason"]
    assert unserved(supervisor, call["id"]) == []  # it was never HEART's call


def test_an_update_to_a_rule_with_the_same_team_keeps_everyone_and_asks_for_ems(
    dispatcher: httpx.Client,
) -> None:
    """Today's plan sends a clinician for a medical need as for no safety flag, with EMS."""
    responder(dispatcher, kind="clinician", at=north_of(300))
    call = dispatcher.post("/v1/calls", json=call_body(category="welfare_check")).json()
    assert (call["plan"]["rule"], call["plan"]["ems"]) == ("no safety flag", False)
    after = patch(
        dispatcher,
        call["id"],
        {"risk": {"medical": True}, "priority": 1, "narrative": "Now short of breath."},
    )
    assert (after["plan"]["rule"], after["plan"]["team"]) == ("medical need", "clinician")
    assert after["plan"]["ems"] is True and after["priority"] == 1
    assert after["plan"]["reason"].endswith(
        "; updated: medical reported, priority 2 to 1: "
        'rule "no safety flag" gave way to "medical need", clinician stays'
    )
    assert after["plan"]["taken"] == []
    assert after["narrative"] == "Now short of breath."
    assert after["assignments"] == call["assignments"]


def test_an_update_that_keeps_the_rule_changes_only_what_it_says(
    dispatcher: httpx.Client,
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(300))
    call = dispatcher.post("/v1/calls", json=call_body(category="welfare_check")).json()
    after = patch(dispatcher, call["id"], {"category": "mental_health_crisis", "language": "es"})
    assert (after["category"], after["language"]) == ("mental_health_crisis", "es")
    assert after["plan"] == call["plan"]
    assert after["assignments"] == call["assignments"]


def test_the_same_values_again_change_nothing(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="clinician", at=north_of(300))
    call = dispatcher.post("/v1/calls", json=call_body()).json()
    again = patch(dispatcher, call["id"], {"risk": {"weapon": False}, "priority": call["priority"]})
    assert again == call


def test_an_officer_stood_down_by_an_update_is_not_told_the_category(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """Today's plan: an overdose with a weapon brings a CIT officer; the weapon withdrawn,
    a clinician alone. The officer stood down reads why, without the category."""
    officer = responder(dispatcher, kind="officer", at=north_of(200), cit_until=NEXT_YEAR)
    responder(dispatcher, kind="clinician", at=north_of(300))
    token = agency.token(Role.responder, responder_id=officer["id"])
    with console(agency.server.ws_url, token) as car:
        body = call_body(category="overdose", weapon=True)
        call = dispatcher.post("/v1/calls", json=body).json()
        car.next_event("assignment.offered")
        after = patch(dispatcher, call["id"], {"risk": {"weapon": False}})
        stood_down = car.next_event("assignment.cancelled")
        rest = car.drain()
    assert after["plan"]["team"] != call["plan"]["team"]
    assert "weapon no longer reported" in stood_down["data"]["reason"]
    for frame in [stood_down, *rest]:
        said = json.dumps(frame)
        assert "overdose" not in said and "substance" not in said, said


def test_bad_updates_are_refused_and_change_nothing(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(300))
    call = dispatcher.post("/v1/calls", json=call_body()).json()
    refused = {
        "nothing to change": {},
        "cannot be null": {"category": None, "priority": 1},
        "true or false": {"risk": {"weapon": None}},
        "risk names no flag": {"risk": {}},
        "valid boolean": {"risk": {"weapon": "yes"}},
        "Extra inputs": {"location": {"lat": 40.1, "lon": -75.3}},
        "less than or equal to 4": {"priority": 7},
    }
    for says, body in refused.items():
        answer = dispatcher.patch(f"/v1/calls/{call['id']}", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert says in answer.text, (body, answer.text)
    assert dispatcher.get(f"/v1/calls/{call['id']}").json() == call

    with agency.client(Role.responder, responder_id=call["assignments"][0]["responder_id"]) as r:
        assert r.patch(f"/v1/calls/{call['id']}", json={"priority": 1}).status_code == 403
    missing = dispatcher.patch(
        "/v1/calls/00000000-0000-0000-0000-000000000000", json={"priority": 1}
    )
    assert missing.status_code == 404
    cancelled = dispatcher.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "test"})
    assert cancelled.status_code == 200
    late = dispatcher.patch(f"/v1/calls/{call['id']}", json={"priority": 1})
    assert late.status_code == 409 and "cancelled" in late.json()["detail"]


def test_a_fallback_due_while_the_server_was_down_is_taken_after_the_restart(
    tmp_path: Path,
) -> None:
    """Fallback deadlines are rows, as offers' expiry is: a restart picks them up."""
    server = start_server(tmp_path)
    try:
        kit = new_agency(server)
        with kit.client(Role.supervisor) as boss, kit.client(Role.dispatcher) as desk:
            assert boss.put("/v1/rules", json=example(after_s=3)).status_code == 200
            staff(desk, "clinician", "peer", "medic", "officer")
            call = heart_call(desk)
            assert call["plan"]["team"] == "heart"
    finally:
        stop_server(server)
    time.sleep(3.5)  # the deadline passes while nothing runs
    restarted = start_server(tmp_path)
    try:
        after = AgencyKit(server=restarted, slug=kit.slug, id=kit.id)
        with after.client(Role.dispatcher) as desk:
            seen = wait_for(
                lambda: desk.get(f"/v1/calls/{call['id']}").json(),
                lambda c: c["plan"]["team"] != "heart",
            )
            assert seen["plan"]["team"] == "co_response"
            assert [t["reason"] for t in seen["plan"]["taken"]] == ["fallback_after_timeout"]
            assert {a["role"] for a in seen["assignments"] if a["state"] == "offered"} >= {
                "officer"
            }
    finally:
        stop_server(restarted)


def test_a_call_reclassified_then_cancelled_is_unserved_by_its_new_rules_team(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(
        {
            "timezone": "UTC",
            "teams": {
                "pair": {"seats": [{"kind": "clinician"}, {"kind": "peer"}]},
                "solo": {"seats": [{"kind": "clinician"}]},
            },
            "rules": [
                {"name": "welfare", "when": {"categories": ["welfare_check"]}, "send": "pair"},
                {"name": "the rest", "send": "solo"},
            ],
        }
    )
    staff(dispatcher, "clinician", "peer")
    call = dispatcher.post("/v1/calls", json=call_body(category="mental_health_crisis")).json()
    assert (call["plan"]["rule"], call["plan"]["team"]) == ("the rest", "solo")
    after = patch(dispatcher, call["id"], {"category": "welfare_check"})
    assert (after["plan"]["rule"], after["plan"]["team"]) == ("welfare", "pair")
    cancelled = dispatcher.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "test"})
    assert cancelled.status_code == 200
    assert unserved(supervisor, call["id"]) == [("welfare", "pair", "cancelled")]
