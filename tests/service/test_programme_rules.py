"""Programme rules end to end, over real HTTP: the agency's document decides the team,
its fallbacks run from the timers, and the ledger keeps every call its team missed."""

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.dispatch.test_programme import EXAMPLE_YAML
from tests.service.factories import NEXT_YEAR, audit_records, call_body, north_of, responder

NEW_YORK = ZoneInfo("America/New_York")
HEART = "HEART downtown by day"


def example(after_s: int = 600) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE_YAML)
    document["rules"][1]["fallback"][0]["after_s"] = after_s
    return document


def last(hour: int) -> str:
    """The latest past moment at `hour`:00 in New York, as a CAD sends it."""
    now = datetime.now(NEW_YORK)
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at > now:
        at -= timedelta(days=1)
    return at.isoformat()


def heart_call(client: httpx.Client, hour: int = 10, **extra: Any) -> dict[str, Any]:
    body = call_body(category="mental_health_crisis", received_at=last(hour), **extra)
    answer = client.post("/v1/calls", json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def staff(client: httpx.Client, *kinds: str) -> dict[str, dict[str, Any]]:
    """One available responder of each kind, officers CIT-certified, a little apart."""
    people = {}
    for i, kind in enumerate(kinds):
        cit = NEXT_YEAR if kind == "officer" else None
        name = f"{kind} {i}"
        people[name] = responder(client, kind=kind, at=north_of(300 + 100 * i), cit_until=cit)
    return people


def unserved(reader: httpx.Client, call_id: str) -> list[tuple[str, str, str]]:
    answer = reader.get(
        "/v1/reports/unserved",
        params={
            "from": (datetime.now(NEW_YORK) - timedelta(days=2)).isoformat(),
            "to": "2100-01-01T00:00:00Z",
        },
    )
    assert answer.status_code == 200, answer.text
    return [
        (c["rule"], c["team"], c["reason"])
        for c in answer.json()["calls"]
        if c["call_id"] == call_id
    ]


def wait_for(
    read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        seen = read()
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def test_every_agency_starts_with_todays_plan_as_version_one(dispatcher: httpx.Client) -> None:
    rules = dispatcher.get("/v1/rules").json()
    assert rules["version"] == 1
    assert [r["name"] for r in rules["document"]["rules"]][-1] == "no safety flag"
    call = dispatcher.post("/v1/calls", json=call_body(weapon=True)).json()
    assert (call["plan"]["rule"], call["plan"]["team"]) == ("weapon or violence", "co_response")
    assert [s["role"] for s in call["plan"]["seats"]] == ["officer", "clinician"]
    assert call["plan"]["programme_version"] == 1


def test_a_heart_call_downtown_at_ten_offers_three_seats(
    dispatcher: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example())
    people = staff(dispatcher, "clinician", "peer", "medic", "officer")
    call = heart_call(dispatcher, hour=10)
    assert (call["plan"]["rule"], call["plan"]["team"]) == (HEART, "heart")
    assert [s["kind"] for s in call["plan"]["seats"]] == ["clinician", "peer", "medic"]
    assert call["plan"]["fallback"][0]["team"] == "co_response"
    assert call["plan"]["fallback_at"] is not None
    assert "after 600 s without every seat filled" in call["plan"]["reason"]
    offered = {a["role"]: (a["responder_id"], a["team"]) for a in call["assignments"]}
    assert offered == {
        "clinician": (people["clinician 0"]["id"], "heart"),
        "peer": (people["peer 1"]["id"], "heart"),
        "medic": (people["medic 2"]["id"], "heart"),
    }
    assert call["status"] == "dispatched"


def test_the_same_call_at_two_gets_a_cit_officer_and_is_unserved_by_heart_outside_hours(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example())
    people = staff(dispatcher, "clinician", "peer", "medic", "officer")
    call = heart_call(dispatcher, hour=2)
    assert (call["plan"]["rule"], call["plan"]["team"]) == ("everything else", "cit_officer")
    assert [a["responder_id"] for a in call["assignments"]] == [people["officer 3"]["id"]]
    assert f'outside the hours of "{HEART}"' in call["plan"]["reason"]
    assert unserved(supervisor, call["id"]) == [(HEART, "heart", "outside_hours")]
    elsewhere = heart_call(dispatcher, hour=10, at=north_of(20_000))
    assert elsewhere["plan"]["rule"] == "everything else"
    assert unserved(supervisor, elsewhere["id"]) == [(HEART, "heart", "outside_area")]


def test_a_heart_call_whose_only_medic_is_busy_falls_back_after_its_timeout(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example(after_s=1))
    people = staff(dispatcher, "clinician", "clinician", "peer", "peer", "medic", "officer")
    first = heart_call(dispatcher)  # takes the medic, and accepted whole keeps its team
    assert {a["role"] for a in first["assignments"]} == {"clinician", "peer", "medic"}
    for offer in first["assignments"]:
        assert dispatcher.post(f"/v1/assignments/{offer['id']}/accept").status_code == 200
    call = heart_call(dispatcher)
    assert call["plan"]["missing"] == ["medic"] and call["plan"]["team"] == "heart"
    mine = {a["role"]: a for a in call["assignments"]}
    accepted = dispatcher.post(f"/v1/assignments/{mine['clinician']['id']}/accept")
    assert accepted.status_code == 200, accepted.text

    after = wait_for(
        lambda: dispatcher.get(f"/v1/calls/{call['id']}").json(),
        lambda c: c["plan"]["team"] != "heart",
    )
    assert after["plan"]["team"] == "co_response"
    assert [(t["from_team"], t["to_team"], t["reason"]) for t in after["plan"]["taken"]] == [
        ("heart", "co_response", "fallback_after_timeout")
    ]
    assert "medic not filled after 1 s: co_response sent instead" in after["plan"]["reason"]
    states = {(a["role"], a["team"], a["state"]) for a in after["assignments"]}
    assert ("clinician", "co_response", "accepted") in states  # kept their seat
    assert ("peer", "heart", "cancelled") in states  # stood down
    officer = next(a for a in after["assignments"] if a["role"] == "officer")
    assert officer["responder_id"] == people["officer 5"]["id"] and officer["state"] == "offered"
    assert unserved(supervisor, call["id"]) == [(HEART, "heart", "fallback_after_timeout")]
    kept = dispatcher.get(f"/v1/calls/{first['id']}").json()  # every seat filled in time
    assert (kept["plan"]["team"], kept["plan"]["taken"]) == ("heart", [])
    board = {r["id"]: r["status"] for r in dispatcher.get("/v1/responders").json()}
    assert board[people["peer 3"]["id"]] == "available"  # freed


def test_a_heart_call_whose_medic_declined_falls_back_as_all_declined(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example(after_s=1))
    staff(dispatcher, "clinician", "peer", "medic", "officer")
    call = heart_call(dispatcher)
    medic = next(a for a in call["assignments"] if a["role"] == "medic")
    assert dispatcher.post(f"/v1/assignments/{medic['id']}/decline").status_code == 200
    after = wait_for(
        lambda: dispatcher.get(f"/v1/calls/{call['id']}").json(),
        lambda c: c["plan"]["team"] != "heart",
    )
    assert [t["reason"] for t in after["plan"]["taken"]] == ["all_declined"]
    assert unserved(supervisor, call["id"]) == [(HEART, "heart", "all_declined")]


def test_a_programme_set_on_the_command_line_plans_the_running_servers_next_call(
    agency: AgencyKit, dispatcher: httpx.Client, cli: Callable[..., str], tmp_path: Path
) -> None:
    before = dispatcher.post("/v1/calls", json=call_body(received_at=last(2))).json()
    assert before["plan"]["rule"] == "no safety flag"
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(example()))
    cli("rules", "set", "--agency", agency.slug, str(rules))
    after = dispatcher.post("/v1/calls", json=call_body(received_at=last(2))).json()
    assert (after["plan"]["rule"], after["plan"]["programme_version"]) == ("everything else", 2)


def test_with_no_medic_on_duty_a_heart_call_falls_back_at_once(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example())
    staff(dispatcher, "clinician", "peer", "officer")
    responder(dispatcher, kind="medic", status="off_duty")
    call = heart_call(dispatcher)
    assert call["plan"]["rule"] == HEART and call["plan"]["team"] == "co_response"
    assert [t["reason"] for t in call["plan"]["taken"]] == ["no_team_available"]
    assert {a["role"] for a in call["assignments"]} == {"officer", "clinician"}
    assert call["plan"]["fallback_at"] is None
    assert unserved(supervisor, call["id"]) == [(HEART, "heart", "no_team_available")]


def test_an_invalid_document_is_refused_with_each_error_and_the_old_stays(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example())
    bad = example()
    bad["rules"][1]["send"] = "hart"
    bad["teams"]["heart"]["seats"][0]["kind"] = "clinican"
    bad["rules"][1]["when"]["hours"] = {"mon-sun": "07:00-23:00", "fri": "08:00-09:00"}
    bad["areas"]["downtown"]["coordinates"][0][2] = [-75.36, 40.10]
    answer = supervisor.put("/v1/rules", json=bad)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "ValidationError" and "nothing changed" in body["detail"]
    paths = {e["path"]: e for e in body["errors"]}
    assert paths["rules[1].send"]["value"] == "hart"
    assert "unknown team" in paths["rules[1].send"]["message"]
    assert paths["teams.heart.seats[0].kind"]["value"] == "clinican"
    assert "overlaps" in paths["rules[1].when.hours.fri"]["message"]
    assert "not a valid polygon" in paths["areas.downtown"]["message"]
    rules = dispatcher.get("/v1/rules").json()
    assert rules["version"] == 2 and rules["document"] == example()
    assert supervisor.put("/v1/rules", json=[1, 2]).status_code == 422


def test_the_programme_is_versioned_audited_and_taken_back_as_read(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    refused = dispatcher.put("/v1/rules", json=example())
    assert refused.status_code == 403
    assert supervisor.put("/v1/rules", json=example()).json()["version"] == 2
    read = supervisor.get("/v1/rules").json()
    again = supervisor.put("/v1/rules", json=read["document"])
    assert again.status_code == 200 and again.json()["version"] == 3
    history = supervisor.get("/v1/rules/history").json()
    assert [v["version"] for v in history] == [3, 2, 1]
    assert supervisor.get("/v1/rules/history/1").json()["document"]["timezone"] == "UTC"
    assert supervisor.get("/v1/rules/history/9").status_code == 404
    records = audit_records(supervisor, action="PUT /v1/rules")
    changes = [(r["outcome"], r["detail"]) for r in records]
    assert ("success", {"old_version": 2, "new_version": 3}) in changes
    assert ("success", {"old_version": 1, "new_version": 2}) in changes
    assert any(outcome == "denied" for outcome, _ in changes)


def test_a_preview_says_what_would_be_sent_and_writes_nothing(
    dispatcher: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    programme(example())
    body = call_body(category="welfare_check")
    night = dispatcher.post("/v1/plans/preview", json={**body, "at": "2030-01-01T02:00:00-05:00"})
    assert night.status_code == 200, night.text
    assert night.json()["rule"] == "everything else"
    assert night.json()["eligible"] == [
        {"rule": HEART, "outside": "outside_hours"},
        {"rule": "everything else", "outside": None},
    ]
    day = dispatcher.post("/v1/plans/preview", json={**body, "at": "2030-01-01T10:00:00-05:00"})
    assert day.json()["team"] == "heart"  # nobody is on duty: a preview does not ask
    assert [s["kind"] for s in day.json()["seats"]] == ["clinician", "peer", "medic"]
    assert dispatcher.get("/v1/calls").json() == []


def test_responder_kinds_are_the_built_in_ones_and_those_the_programme_declares(
    dispatcher: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    assert responder(dispatcher, kind="peer")["kind"] == "peer"
    refused = dispatcher.post("/v1/responders", json={"kind": "crisis_worker", "name": "A"})
    assert refused.status_code == 422
    assert "crisis_worker" in refused.json()["detail"] and "kinds" in refused.json()["detail"]
    document = example()
    document["kinds"] = ["crisis_worker"]
    document["teams"]["cahoots"] = {"seats": [{"kind": "crisis_worker"}, {"kind": "medic"}]}
    document["rules"][-1]["send"] = "cahoots"
    programme(document)
    worker = responder(dispatcher, kind="crisis_worker", at=north_of(200))
    call = heart_call(dispatcher, hour=2)
    assert call["plan"]["team"] == "cahoots"
    assert [a["responder_id"] for a in call["assignments"]] == [worker["id"]]


def test_a_call_referred_to_police_gets_no_team_and_a_cancelled_one_is_unserved(
    dispatcher: httpx.Client, supervisor: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    document = example()
    document["rules"][0]["send"] = "police"
    programme(document)
    staff(dispatcher, "officer", "clinician")
    referred = dispatcher.post("/v1/calls", json=call_body(weapon=True)).json()
    assert (referred["status"], referred["plan"]["team"], referred["assignments"]) == (
        "referred",
        "police",
        [],
    )
    assert "refer to police" in referred["plan"]["reason"]
    waiting = heart_call(dispatcher)  # no peer, no medic on duty, and only after 600 s
    assert waiting["plan"]["team"] == "co_response"
    cancel = dispatcher.post(f"/v1/calls/{waiting['id']}/cancel", json={"reason": "caller fine"})
    assert cancel.status_code == 200
    assert unserved(supervisor, waiting["id"]) == [(HEART, "heart", "no_team_available")]
    plain = dispatcher.post(
        "/v1/calls", json=call_body(at=north_of(20_000), received_at=last(3))
    ).json()
    assert plain["plan"]["rule"] == "everything else"
    dispatcher.post(f"/v1/calls/{plain['id']}/cancel", json={"reason": "caller fine"})
    assert sorted(unserved(supervisor, plain["id"])) == [
        (HEART, "heart", "outside_hours"),  # hours are asked before the area
        ("everything else", "cit_officer", "cancelled"),
    ]


def test_the_unserved_report_counts_and_shows_calls_only_to_those_who_may_see_them(
    agency: AgencyKit,
    dispatcher: httpx.Client,
    supervisor: httpx.Client,
    programme: Callable[..., dict[str, Any]],
) -> None:
    programme(example())
    staff(dispatcher, "officer")
    for _ in range(2):
        heart_call(dispatcher, hour=2)
    window = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    report = supervisor.get("/v1/reports/unserved", params=window).json()
    assert report["total"] == 2
    assert report["by_reason"] == {"outside_hours": 2}
    assert report["by_rule"] == {HEART: 2}
    [hour] = report["by_hour_of_week"]
    assert (hour["hour"], hour["count"]) == (2, 2)
    assert len(report["calls"]) == 2
    with agency.client(Role.cad) as cad:
        assert cad.get("/v1/reports/unserved", params=window).json()["calls"] is None
    backwards = supervisor.get(
        "/v1/reports/unserved", params={"from": window["to"], "to": window["from"]}
    )
    assert backwards.status_code == 422
    assert supervisor.get("/v1/reports/unserved").status_code == 422
