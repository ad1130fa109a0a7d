"""Community resources: the directory kept by admins and supervisors, the capacity kept
by a provider token that can do nothing else, and the suggestions for a call."""

import json
import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from models.programme import DAYS
from models.vocabulary import Role
from tests.conftest import CORESPOND, AgencyKit
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder

OTHER_DAY = DAYS[(datetime.now(UTC).weekday() + 3) % 7]  # not today in any zone


def place(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    at = fields.pop("at", north_of(1000))
    body = {"name": "A place", "kind": "crisis_centre", "location": {"lat": at[0], "lon": at[1]}}
    created = client.post("/v1/resources", json={**body, **fields})
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


def provider_token(agency: AgencyKit, resource_id: str) -> str:
    done = subprocess.run(
        [
            *(CORESPOND, "token", "create", "--agency", agency.slug, "--role", "provider"),
            *("--resource", resource_id, "--label", "night desk"),
        ],
        env=agency.server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def as_token(agency: AgencyKit, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=agency.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


@pytest.fixture
def admin(agency: AgencyKit) -> httpx.Client:
    return agency.client(Role.admin)


def test_admins_and_supervisors_keep_the_directory(
    admin: httpx.Client, supervisor: httpx.Client, dispatcher: httpx.Client
) -> None:
    created = place(
        admin,
        name="Beech St Sobering Centre",
        kind="sobering_centre",
        categories=["substance_use", "overdose"],
        age_groups=["adult"],
        hours={"mon-fri": "08:00-20:00", "sat-sun": "10:00-16:00"},
        capacity=4,
    )
    assert created["capacity_updated_at"] is not None
    changed = supervisor.patch(
        f"/v1/resources/{created['id']}", json={"capacity": 2, "name": "Beech St Sobering"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Beech St Sobering"
    assert [r["id"] for r in dispatcher.get("/v1/resources").json()] == [created["id"]]

    assert dispatcher.post("/v1/resources", json={}).status_code == 422
    body = {"name": "X", "kind": "crisis_centre", "location": {"lat": 40.1, "lon": -75.3}}
    assert dispatcher.post("/v1/resources", json=body).status_code == 403
    bad_hours = admin.post("/v1/resources", json={**body, "hours": {"mon": "20:00-08:00"}})
    assert bad_hours.status_code == 422 and "split a night" in bad_hours.text
    bad_kind = admin.post("/v1/resources", json={**body, "kind": "jail"})
    assert bad_kind.status_code == 422
    nulled = admin.patch(f"/v1/resources/{created['id']}", json={"kind": None})
    assert nulled.status_code == 422
    assert admin.delete(f"/v1/resources/{created['id']}").status_code == 200
    assert dispatcher.get(f"/v1/resources/{created['id']}").status_code == 404


def test_a_provider_token_sets_its_own_capacity_and_nothing_else(
    agency: AgencyKit, admin: httpx.Client, dispatcher: httpx.Client, make_agency: Any
) -> None:
    mine = place(admin, name="Mine", capacity=5)
    other = place(admin, name="Other", capacity=5)
    token = provider_token(agency, mine["id"])

    with (
        as_token(agency, token) as provider,
        console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk,
    ):
        set_ = provider.put(f"/v1/resources/{mine['id']}/capacity", json={"capacity": 2})
        assert set_.status_code == 200, set_.text
        heard = desk.next_event("resource.capacity_changed")
        assert heard["data"]["id"] == mine["id"] and heard["data"]["capacity"] == 2

        assert [r["id"] for r in provider.get("/v1/resources").json()] == [mine["id"]]
        assert provider.get(f"/v1/resources/{mine['id']}").status_code == 200
        # Another resource is not there for it, to read or to set.
        assert provider.get(f"/v1/resources/{other['id']}").status_code == 404
        theirs = provider.put(f"/v1/resources/{other['id']}/capacity", json={"capacity": 0})
        assert theirs.status_code == 404
        # Its own resource's other fields, the directory, and every other act: refused.
        rename = provider.patch(f"/v1/resources/{mine['id']}", json={"name": "Ours now"})
        assert rename.status_code == 403
        assert provider.post("/v1/resources", json={}).status_code in (403, 422)
        assert provider.delete(f"/v1/resources/{mine['id']}").status_code == 403
        call = {"location": {"lat": 40.1, "lon": -75.3}, "category": "welfare_check"}
        assert provider.post("/v1/calls", json={**call, "priority": 3}).status_code == 403
        assert (
            provider.post("/v1/responders", json={"kind": "peer", "name": "x"}).status_code == 403
        )
        assert (
            provider.put(f"/v1/resources/{mine['id']}/capacity", json={"capacity": -1}).status_code
            == 422
        )

    assert dispatcher.get(f"/v1/resources/{other['id']}").json()["capacity"] == 5
    assert dispatcher.get(f"/v1/resources/{mine['id']}").json()["name"] == "Mine"
    with make_agency().client(Role.admin) as elsewhere:
        foreign = place(elsewhere, name="Foreign")
    with as_token(agency, token) as provider:
        crossed = provider.put(f"/v1/resources/{foreign['id']}/capacity", json={"capacity": 0})
        assert crossed.status_code == 404
    # A resource a provider acts for is not deleted from under it.
    held = admin.delete(f"/v1/resources/{mine['id']}")
    assert held.status_code == 422 and "revoke it first" in held.json()["detail"]
    token_id = held.json()["detail"].split()[2]
    revoked = subprocess.run(
        [CORESPOND, "token", "revoke", token_id], env=agency.server.env, capture_output=True
    )
    assert revoked.returncode == 0, revoked.stderr
    assert admin.delete(f"/v1/resources/{mine['id']}").status_code == 200


def test_a_provider_token_needs_its_resource(agency: AgencyKit) -> None:
    base = [CORESPOND, "token", "create", "--agency", agency.slug, "--role", "provider"]
    run = {"env": agency.server.env, "capture_output": True, "text": True, "timeout": 60}
    refused = subprocess.run(base, **run)  # type: ignore[call-overload]
    assert refused.returncode != 0 and "--resource" in refused.stderr
    unknown = subprocess.run(  # type: ignore[call-overload]
        [*base, "--resource", "00000000-0000-0000-0000-000000000001"], **run
    )
    assert unknown.returncode != 0 and "no resource" in unknown.stderr


def test_suggestions_are_the_nearest_open_places_with_room_that_fit(
    agency: AgencyKit, admin: httpx.Client, dispatcher: httpx.Client
) -> None:
    near = place(
        admin,
        name="Near Detox",
        kind="detox",
        categories=["substance_use"],
        at=north_of(800),
        capacity=3,
    )
    far = place(admin, name="Far Sobering", kind="sobering_centre", at=north_of(9000))
    place(admin, name="Full Crisis", at=north_of(300), capacity=0)
    place(
        admin,
        name="Closed Shelter",
        kind="shelter",
        at=north_of(200),
        hours={OTHER_DAY: "00:00-24:00"},
    )
    place(admin, name="Youth Only", at=north_of(100), age_groups=["youth"])
    place(admin, name="MH Only", at=north_of(150), categories=["mental_health_crisis"])
    clinician = responder(dispatcher, kind="clinician", at=north_of(50))
    call = post_call(dispatcher, category="substance_use", age_group="adult")
    aid = call["assignments"][0]["id"]

    suggested = dispatcher.get(f"/v1/calls/{call['id']}/suggested-resources")

    assert suggested.status_code == 200, suggested.text
    assert [s["name"] for s in suggested.json()] == ["Near Detox", "Far Sobering"]
    assert suggested.json()[0]["distance_m"] == pytest.approx(800, rel=0.01)
    assert suggested.json()[0]["id"] == near["id"] and suggested.json()[1]["id"] == far["id"]
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        card = phone.get(f"/v1/assignments/{aid}/suggested-resources")
        assert [s["name"] for s in card.json()] == ["Near Detox", "Far Sobering"]
    stranger = responder(dispatcher, kind="peer")
    with agency.client(Role.responder, responder_id=stranger["id"]) as other:
        assert other.get(f"/v1/assignments/{aid}/suggested-resources").status_code == 404
        assert other.get(f"/v1/calls/{call['id']}/suggested-resources").status_code == 404

    # An officer kept from substance use is suggested places as if the category were
    # unknown: what a detox's presence would say is not said.
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR, at=north_of(60))
    weapon = post_call(dispatcher, category="substance_use", age_group="adult", weapon=True)
    oid = next(a["id"] for a in weapon["assignments"] if a["responder_id"] == officer["id"])
    with agency.client(Role.responder, responder_id=officer["id"]) as radio:
        seen = [s["name"] for s in radio.get(f"/v1/assignments/{oid}/suggested-resources").json()]
    assert seen == ["MH Only", "Near Detox", "Far Sobering"]


def test_a_provider_token_reads_nothing_but_its_resource(
    agency: AgencyKit, admin: httpx.Client, dispatcher: httpx.Client
) -> None:
    mine = place(admin, name="Mine")
    responder(dispatcher, kind="clinician")
    call = post_call(dispatcher)
    aid = call["assignments"][0]["id"]
    with as_token(agency, provider_token(agency, mine["id"])) as provider:
        for path in (
            "/v1/calls",
            f"/v1/calls/{call['id']}",
            f"/v1/calls/{call['id']}/eido",
            f"/v1/assignments/{aid}",
            "/v1/responders",
        ):
            assert provider.get(path).status_code == 403, path
    # nor a console: its hello is refused with 4403
    token = provider_token(agency, mine["id"])
    with connect(agency.server.ws_url) as socket:
        socket.send(json.dumps({"type": "hello", "token": token}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
