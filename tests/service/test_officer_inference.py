"""42 CFR Part 2 against inference: where an agency keeps substance use from its
officers, nothing an officer is shown may tell an overdose from a mental-health
crisis — not a withheld field that appears only on some calls, not EMS on a call
with no medical flag, not a preferred skill or a reason — over HTTP or on the socket.
"""

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from models.agency import Principal
from models.vocabulary import Role
from service.trust.disclosure import redact_event_data
from tests.conftest import AgencyKit
from tests.service.consoles import TestConsole, console
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder

# What legitimately differs between two calls' views: who, which, when, how far.
VARYING = {
    "id",
    "call_id",
    "responder_id",
    "external_id",
    "seq",
    "at",
    "received_at",
    "created_at",
    "closed_at",
    "offered_at",
    "offer_expires_at",
    "accepted_at",
    "en_route_at",
    "on_scene_at",
    "cleared_at",
    "ended_at",
    "eta_s",
    "distance_m",
}
TELLING = ("substance", "overdose")  # "substance_use" is also the skill's name
SCENE = north_of(500)
FLAGS = [
    pytest.param({"weapon": True}, id="weapon"),
    pytest.param({"violence": True, "medical": True}, id="violence-and-medical"),
]


def _without_what_varies(value: Any) -> Any:
    """`value` with every id, time, external id, distance and ETA replaced by a mark (a
    null stays null: whether a time is set is the same on both calls)."""
    if isinstance(value, dict):
        return {
            k: ("…" if k in VARYING and v is not None else _without_what_varies(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_what_varies(v) for v in value]
    return value


def _events_until(car: TestConsole, name: str) -> list[dict[str, Any]]:
    """Every event frame the console receives, through the first `name` event."""
    events = []
    for _ in range(100):
        frame = car.recv()
        if frame.get("type") == "event":
            events.append(frame)
            if frame["event"] == name:
                return events
    raise AssertionError(f"no {name} event in 100 frames")


class Shift:
    """A CIT officer and a clinician standing by together, and the officer's console
    token; `later` ones start off duty, to be called in for the second call."""

    def __init__(self, agency: AgencyKit, dispatcher: httpx.Client, *, later: bool) -> None:
        status = "off_duty" if later else "available"
        self.officer = responder(
            dispatcher, kind="officer", cit_until=NEXT_YEAR, at=SCENE, status=status
        )
        self.clinician = responder(dispatcher, kind="clinician", at=SCENE, status=status)
        self.token = agency.token(Role.responder, responder_id=self.officer["id"])
        self.car = httpx.Client(
            base_url=agency.server.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def call_in(self, dispatcher: httpx.Client) -> None:
        for person in (self.officer, self.clinician):
            changed = dispatcher.put(
                f"/v1/responders/{person['id']}/status", json={"status": "available"}
            )
            assert changed.status_code == 200, changed.text


@pytest.fixture
def shift(agency: AgencyKit, dispatcher: httpx.Client) -> Iterator[Callable[..., Shift]]:
    """Shifts on call in the test's agency (`shift(later=True)`: off duty for now)."""
    started: list[Shift] = []

    def start(*, later: bool = False) -> Shift:
        started.append(Shift(agency, dispatcher, later=later))
        return started[-1]

    yield start
    for each in started:
        each.car.close()


def _call(dispatcher: httpx.Client, category: str, flags: dict[str, bool], **extra: Any) -> Any:
    return post_call(
        dispatcher, at=SCENE, category=category, priority=1, language="es", **flags, **extra
    )


def _officers_offer(call: dict[str, Any]) -> str:
    return str(next(a["id"] for a in call["assignments"] if a["role"] == "officer"))


def _work_the_call(shift: Shift, call: dict[str, Any]) -> list[dict[str, Any]]:
    """The officer reads the call, accepts, drives and arrives, reading it again: every
    answer it got, in order."""
    offer = _officers_offer(call)
    answers = [shift.car.get(f"/v1/calls/{call['id']}"), shift.car.get("/v1/calls")]
    answers.append(shift.car.get(f"/v1/assignments/{offer}"))
    answers.append(shift.car.post(f"/v1/assignments/{offer}/accept"))
    for status in ("en_route", "on_scene"):
        answers.append(shift.car.post(f"/v1/assignments/{offer}/status", json={"status": status}))
    answers += [shift.car.get(f"/v1/calls/{call['id']}"), shift.car.get("/v1/calls")]
    for answer in answers:
        assert answer.status_code == 200, answer.text
    return [a.json() for a in answers]


@pytest.mark.parametrize("flags", FLAGS)
def test_an_officer_cannot_tell_an_overdose_from_a_mental_health_crisis(
    agency: AgencyKit,
    dispatcher: httpx.Client,
    shift: Callable[..., Shift],
    flags: dict[str, bool],
) -> None:
    first, second = shift(), shift(later=True)
    ws = agency.server.ws_url
    with console(ws, first.token) as car_one, console(ws, second.token) as car_two:
        overdose = _call(
            dispatcher, "overdose", flags, narrative="Roommate found him blue; took fentanyl."
        )
        assert {a["responder_id"] for a in overdose["assignments"]} == {
            first.officer["id"],
            first.clinician["id"],
        }
        second.call_in(dispatcher)
        crisis = _call(
            dispatcher, "mental_health_crisis", flags, narrative="Hearing voices, not sleeping."
        )
        assert second.officer["id"] in {a["responder_id"] for a in crisis["assignments"]}

        # A console that reconnects is sent the offer again, redacted the same way.
        resent = []
        for each in (first, second):
            with console(ws, each.token) as again:
                resent.append(again.next_event("assignment.offered"))

        answers_one = _work_the_call(first, overdose)
        answers_two = _work_the_call(second, crisis)
        events_one = _events_until(car_one, "assignment.on_scene")
        events_two = _events_until(car_two, "assignment.on_scene")

    # The desk knows which is which: the difference is there to be hidden.
    assert overdose["category"] == "overdose" and overdose["plan"]["ems"]
    assert crisis["category"] == "mental_health_crisis"

    events_one = events_one[[e["event"] for e in events_one].index("assignment.offered") :]
    events_two = events_two[[e["event"] for e in events_two].index("assignment.offered") :]
    assert [e["event"] for e in events_one] == [
        "assignment.offered",
        "assignment.accepted",
        "assignment.en_route",
        "assignment.on_scene",
    ]
    assert _without_what_varies(answers_one) == _without_what_varies(answers_two)
    assert _without_what_varies(events_one) == _without_what_varies(events_two)
    assert _without_what_varies(resent[0]) == _without_what_varies(resent[1])

    view, offer = answers_one[0], events_one[0]["data"]["call"]
    assert view["plan"]["ems"] == view["risk"]["medical"] == flags.get("medical", False)
    assert offer["plan"]["ems"] == offer["risk"]["medical"]
    seen = json.dumps([answers_one, events_one, resent]).lower()
    for word in TELLING:
        assert word not in seen
    assert "fentanyl" not in seen


def test_an_officer_reads_the_team_and_the_flags_but_not_the_rule(
    dispatcher: httpx.Client, shift: Callable[..., Shift]
) -> None:
    """A rule's name may name the category ("overdose"), so an officer kept from
    substance use reads the plan from the flags and the team on every call."""
    on_duty = shift()
    call = _call(dispatcher, "welfare_check", {"weapon": True, "medical": True})
    assert call["plan"]["rule"] == "weapon or violence, and a medical need or an overdose"
    seen = on_duty.car.get(f"/v1/calls/{call['id']}").json()
    assert seen["plan"]["rule"] is None
    assert seen["plan"]["reason"] == (
        "weapon reported: co_response (CIT officer, clinician); medical need: request EMS"
    )
    assert seen["plan"]["team"] == call["plan"]["team"] == "co_response"
    assert seen["plan"]["ems"] is True


def test_the_clinician_on_an_overdose_still_sees_what_it_is_and_the_skill_it_wants(
    agency: AgencyKit, dispatcher: httpx.Client, shift: Callable[..., Shift]
) -> None:
    clinician = shift().clinician
    clinician_token = agency.token(Role.responder, responder_id=clinician["id"])
    with console(agency.server.ws_url, clinician_token) as phone:
        call = _call(dispatcher, "overdose", {"weapon": True})
        offer = phone.next_event("assignment.offered")
    assert offer["data"]["call"]["category"] == "overdose"
    assert offer["data"]["call"]["plan"]["ems"] is True
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone_http:
        seen = phone_http.get(f"/v1/calls/{call['id']}").json()
    assert seen["category"] == "overdose" and seen["withheld"] == ["contacts"]
    clinician_seat = next(s for s in seen["plan"]["seats"] if s["role"] == "clinician")
    assert clinician_seat["prefer_skills"] == ["substance_use"]


def test_an_agency_that_lets_officers_see_substance_use_still_shows_them_the_category(
    agency: AgencyKit,
    dispatcher: httpx.Client,
    shift: Callable[..., Shift],
    cli: Callable[..., str],
) -> None:
    cli("agency", "update", agency.slug, "--officers-see-substance-use")
    on_duty = shift()
    with console(agency.server.ws_url, on_duty.token) as car:
        call = _call(dispatcher, "overdose", {"weapon": True})
        offer = car.next_event("assignment.offered")
    assert offer["data"]["call"]["category"] == "overdose"
    assert offer["data"]["call"]["plan"]["ems"] is True
    assert "withheld" not in offer["data"]["call"]
    seen = on_duty.car.get(f"/v1/calls/{call['id']}").json()
    assert seen["category"] == "overdose" and seen["withheld"] == ["contacts"]
    assert seen["plan"] == call["plan"]


def test_a_field_added_to_a_calls_summary_reaches_such_officers_only_once_judged_neutral() -> None:
    officer = Principal(
        token_id=uuid.uuid4(),
        agency_id=uuid.uuid4(),
        agency_slug="a",
        role=Role.responder,
        responder_id=uuid.uuid4(),
    )
    summary = {
        "id": "c1",
        "category": "overdose",
        "risk": {"weapon": True, "violence": False, "medical": False},
        "priority": 1,
        "plan": {
            "rule": "overdose",
            "team": "co_response",
            "roles": [{"role": "officer", "kind": "officer", "cit_required": True}],
            "reason": "naloxone team",
            "ems": True,
            "programme": "SUD",
        },
        "programme": "substance use diversion",
    }
    seen = redact_event_data({"assignment": {"id": "a1"}, "call": summary}, officer)
    assert seen == {
        "assignment": {"id": "a1"},
        "call": {
            "id": "c1",
            "category": None,
            "risk": summary["risk"],
            "priority": 1,
            "plan": {
                "rule": None,
                "team": "co_response",
                "roles": [
                    {
                        "role": "officer",
                        "kind": "officer",
                        "cit_required": True,
                        "preferred_skills": [],
                        "prefer_language": True,
                    }
                ],
                "reason": "weapon reported: co_response (CIT officer)",
                "ems": False,
                "fallback_at": None,
                "fallback_team": None,
            },
            "withheld": ["category"],
        },
    }
