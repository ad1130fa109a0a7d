"""Roles, scope and minimum necessary, as each kind of user meets them over HTTP and
WebSocket."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, call_body, north_of, post_call, responder

STAFF = (Role.admin, Role.supervisor, Role.dispatcher)


class World:
    """An agency with a clinician offered a call, another clinician offered another
    call, an officer off duty, and calls waiting to be cancelled."""

    def __init__(self, agency: AgencyKit, dispatcher: httpx.Client) -> None:
        self.agency = agency
        self.mine = responder(dispatcher, kind="clinician")
        self.call = post_call(dispatcher)
        self.assignment = self.call["assignments"][0]
        assert self.assignment["responder_id"] == self.mine["id"]
        self.other = responder(dispatcher, kind="clinician", at=north_of(3000))
        self.elsewhere = post_call(dispatcher, at=north_of(3000))
        self.idle = responder(dispatcher, kind="officer", status="off_duty")
        self.cancellable = [post_call(dispatcher, at=north_of(90_000)) for _ in range(2)]

    def client(self, role: Role) -> httpx.Client:
        rid = self.mine["id"] if role == Role.responder else None
        return self.agency.client(role, responder_id=rid)


Request = Callable[[httpx.Client, World], httpx.Response]

# What each role gets, in the order admin, supervisor, dispatcher, cad, responder.
# The responder is the clinician offered `call`; "other" things are not its own.
MATRIX: list[tuple[str, Request, tuple[int, int, int, int, int]]] = [
    (
        "register a responder",
        lambda c, w: c.post("/v1/responders", json={"kind": "clinician", "name": "New"}),
        (201, 201, 201, 403, 403),
    ),
    (
        "move another responder",
        lambda c, w: c.put(
            f"/v1/responders/{w.other['id']}/position", json={"lat": 40.2, "lon": -75.3}
        ),
        (200, 200, 200, 200, 404),
    ),
    (
        "read another responder",
        lambda c, w: c.get(f"/v1/responders/{w.other['id']}"),
        (200,) * 4 + (404,),
    ),
    ("read oneself", lambda c, w: c.get(f"/v1/responders/{w.mine['id']}"), (200,) * 5),
    (
        "flag a call",
        lambda c, w: c.post("/v1/calls", json=call_body(at=north_of(80_000))),
        (201, 201, 201, 201, 403),
    ),
    ("read the call it is offered", lambda c, w: c.get(f"/v1/calls/{w.call['id']}"), (200,) * 5),
    (
        "read a call it is not on",
        lambda c, w: c.get(f"/v1/calls/{w.elsewhere['id']}"),
        (200,) * 4 + (404,),
    ),
    (
        "cancel a call",
        lambda c, w: c.post(
            f"/v1/calls/{w.cancellable.pop()['id']}/cancel", json={"reason": "test"}
        ),
        (200, 200, 200, 200, 403),
    ),
    (
        "answer another's offer",
        lambda c, w: (
            c.post(f"/v1/assignments/{w.elsewhere['assignments'][0]['id']}/decline")
            if w.elsewhere["assignments"]
            else httpx.Response(404)
        ),
        (200, 200, 200, 403, 404),
    ),
    (
        "stand another responder down",
        lambda c, w: c.put(
            f"/v1/responders/{w.idle['id']}/status", json={"status": "out_of_service"}
        ),
        (200, 200, 200, 403, 404),
    ),
    ("read the audit log", lambda c, w: c.get("/v1/audit"), (200, 200, 403, 403, 403)),
]
ROLES = (Role.admin, Role.supervisor, Role.dispatcher, Role.cad, Role.responder)


@pytest.mark.parametrize(
    ("role_index", "role"), list(enumerate(ROLES)), ids=[r.value for r in ROLES]
)
def test_each_role_may_do_what_its_work_needs_and_nothing_more(
    agency: AgencyKit, dispatcher: httpx.Client, role_index: int, role: Role
) -> None:
    world = World(agency, dispatcher)
    with world.client(role) as client:
        for what, request, expected in MATRIX:
            response = request(client, world)
            assert response.status_code == expected[role_index], (
                f"{role.value}: {what}: {response.text}"
            )
            if response.status_code >= 400 and response.content:
                assert set(response.json()) == {"error", "detail"}


def test_a_responder_lists_only_its_own_calls_and_not_its_colleagues(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    world = World(agency, dispatcher)
    with world.client(Role.responder) as phone:
        assert phone.get("/v1/responders").status_code == 403
        assert [c["id"] for c in phone.get("/v1/calls").json()] == [world.call["id"]]


def test_nothing_of_another_agency_can_be_seen_or_touched(
    agency: AgencyKit, dispatcher: httpx.Client, make_agency: Callable[[], AgencyKit]
) -> None:
    world = World(agency, dispatcher)
    theirs = make_agency()
    for role in (Role.admin, Role.dispatcher, Role.cad):
        with theirs.client(role) as outsider:
            for response in (
                outsider.get(f"/v1/calls/{world.call['id']}"),
                outsider.post(f"/v1/calls/{world.call['id']}/cancel", json={"reason": "x"}),
                outsider.get(f"/v1/responders/{world.mine['id']}"),
                outsider.put(
                    f"/v1/responders/{world.mine['id']}/status", json={"status": "off_duty"}
                ),
                outsider.post(f"/v1/assignments/{world.assignment['id']}/accept"),
            ):
                assert response.status_code in (403, 404), response.text
            assert outsider.get("/v1/calls").json() == []
            if role != Role.cad:
                assert outsider.get("/v1/responders").json() == []
    with agency.client(Role.dispatcher) as ours:
        assert ours.get(f"/v1/calls/{world.call['id']}").json()["status"] == "dispatched"


# ---- minimum necessary ---------------------------------------------------------------

NARRATIVE = "Brother says he took his whole prescription and has a knife."
CALL_FIELDS = {
    "id",
    "external_id",
    "location",
    "category",
    "risk",
    "priority",
    "narrative",
    "language",
    "age_group",
    "status",
    "plan",
    "assignments",
    "disposition",
    "received_at",
    "created_at",
    "closed_at",
    "contacts",
    "withheld",
}
# The sensitive fields each reader sees on an overdose call with a narrative.
ALLOWED: dict[str, set[str]] = {
    "admin": {"narrative", "category", "contacts"},
    "supervisor": {"narrative", "category", "contacts"},
    "dispatcher": {"narrative", "category", "contacts"},
    "cad": {"narrative", "category", "contacts"},
    "clinician offered": {"category"},
    "clinician accepted": {"narrative", "category"},
    "officer offered": set(),
    "officer accepted": set(),
}


def _sensitive_seen(call: dict[str, Any]) -> set[str]:
    assert set(call) == CALL_FIELDS
    seen = {f for f in ("narrative", "category", "contacts") if call[f] is not None}
    assert set(call["withheld"]) == {"narrative", "category", "contacts"} - seen
    return seen


def _overdose_with_a_knife(
    agency: AgencyKit, dispatcher: httpx.Client
) -> tuple[dict[str, Any], ...]:
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    clinician = responder(dispatcher, kind="clinician")
    call = post_call(dispatcher, category="overdose", weapon=True, narrative=NARRATIVE)
    return officer, clinician, call


def test_each_reader_sees_exactly_its_allow_list_of_a_calls_sensitive_fields(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    officer, clinician, call = _overdose_with_a_knife(agency, dispatcher)
    path = f"/v1/calls/{call['id']}"
    for role in (Role.admin, Role.supervisor, Role.dispatcher, Role.cad):
        with agency.client(role) as reader:
            assert _sensitive_seen(reader.get(path).json()) == ALLOWED[role.value]
    by_role = {a["role"]: a["id"] for a in call["assignments"]}
    for kind, person in (("clinician", clinician), ("officer", officer)):
        with agency.client(Role.responder, responder_id=person["id"]) as phone:
            offered = phone.get(path).json()
            assert _sensitive_seen(offered) == ALLOWED[f"{kind} offered"]
            assert phone.post(f"/v1/assignments/{by_role[kind]}/accept").status_code == 200
            accepted = phone.get(path).json()
            assert _sensitive_seen(accepted) == ALLOWED[f"{kind} accepted"]
            if kind == "officer":
                text = phone.get(path).text.lower()
                assert "substance" not in text and "overdose" not in text
                assert "knife" not in text
                assert all(s["prefer_skills"] == [] for s in accepted["plan"]["seats"])


def test_an_officers_console_is_not_told_a_call_concerns_substance_use(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    clinician = responder(dispatcher, kind="clinician")
    ws = agency.server.ws_url
    with (
        console(ws, agency.token(Role.responder, responder_id=officer["id"])) as car,
        console(ws, agency.token(Role.responder, responder_id=clinician["id"])) as phone,
        console(ws, agency.token(Role.dispatcher)) as desk,
    ):
        post_call(dispatcher, category="substance_use", violence=True, narrative=NARRATIVE)
        to_officer = car.next_event("assignment.offered")
        to_clinician = phone.next_event("assignment.offered")
        created = desk.next_event("call.created")
        # The same two events as the desk sees them (one encoding a way of seeing).
        on_desk = [desk.next_event("assignment.offered") for _ in range(2)]
    assert {f["seq"] for f in on_desk} == {to_officer["seq"], to_clinician["seq"]}
    assert [f["data"]["call"]["category"] for f in on_desk] == ["substance_use"] * 2
    assert to_officer["data"]["call"]["category"] is None
    assert to_officer["data"]["call"]["withheld"] == ["category"]
    assert "substance" not in str(to_officer).lower()
    assert to_clinician["data"]["call"]["category"] == "substance_use"
    assert created["data"]["category"] == "substance_use"
    for frame in (to_officer, to_clinician, created):
        assert "knife" not in str(frame)  # narratives never travel in events


def test_an_agency_may_let_its_officers_see_more(
    agency: AgencyKit, dispatcher: httpx.Client, cli: Callable[..., str]
) -> None:
    cli("agency", "update", agency.slug, "--officers-see-narrative", "--officers-see-substance-use")
    officer, _, call = _overdose_with_a_knife(agency, dispatcher)
    offer = next(a for a in call["assignments"] if a["role"] == "officer")
    with agency.client(Role.responder, responder_id=officer["id"]) as car:
        assert _sensitive_seen(car.get(f"/v1/calls/{call['id']}").json()) == {"category"}
        car.post(f"/v1/assignments/{offer['id']}/accept")
        seen = car.get(f"/v1/calls/{call['id']}").json()
        assert _sensitive_seen(seen) == {"narrative", "category"}
        assert seen["narrative"] == NARRATIVE
