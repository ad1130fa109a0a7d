"""Bad input gets a clear error in one shape, and nothing is written."""

import uuid
from typing import Any

import httpx
import pytest

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.service.factories import call_body, north_of, responder


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


BAD_CALLS = [
    pytest.param(call_body(at=(91.0, -75.3)), "location.lat", id="latitude-91"),
    pytest.param(call_body(at=(40.0, -181.0)), "location.lon", id="longitude-181"),
    pytest.param(call_body(category="alien_abduction"), "category", id="unknown-category"),
    pytest.param(_without(call_body(), "category"), "category", id="missing-category"),
    pytest.param(_without(call_body(), "location"), "location", id="missing-location"),
    pytest.param(call_body(priority=5), "priority", id="priority-5"),
    pytest.param(call_body(status="closed"), "status", id="read-only-field"),
    pytest.param(call_body(language="Spanish!"), "language", id="bad-language-tag"),
    pytest.param({**call_body(), "risk": {"weapon": "maybe"}}, "risk.weapon", id="risk-not-bool"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CALLS)
def test_a_malformed_call_is_refused_and_nothing_is_written(
    dispatcher: httpx.Client, body: dict[str, Any], field: str
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(100))

    response = dispatcher.post("/v1/calls", json=body)

    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "ValidationError"
    assert field in error["detail"]
    assert dispatcher.get("/v1/calls").json() == []
    assert dispatcher.get(f"/v1/responders/{clinician['id']}").json()["status"] == "available"


def test_a_body_that_is_not_json_is_refused(dispatcher: httpx.Client) -> None:
    response = dispatcher.post(
        "/v1/calls", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "ValidationError"


def test_unknown_responder_id_is_404_in_the_error_shape(dispatcher: httpx.Client) -> None:
    missing = uuid.uuid4()
    for response in (
        dispatcher.get(f"/v1/responders/{missing}"),
        dispatcher.put(f"/v1/responders/{missing}/position", json={"lat": 40.0, "lon": -75.0}),
        dispatcher.put(f"/v1/responders/{missing}/status", json={"status": "available"}),
        dispatcher.post(f"/v1/assignments/{missing}/accept"),
        dispatcher.get(f"/v1/calls/{missing}"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "NotFound"
        assert str(missing) in response.json()["detail"]


def test_a_malformed_id_is_422(dispatcher: httpx.Client) -> None:
    response = dispatcher.get("/v1/responders/not-a-uuid")
    assert response.status_code == 422
    assert "responder_id" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"kind": "dog", "name": "Rex"}, "kind", id="unknown-kind"),
        pytest.param({"kind": "officer"}, "name", id="missing-name"),
        pytest.param(
            {"kind": "clinician", "name": "A", "cit_certified_until": "2030-01-01"},
            "officers only",
            id="cit-for-clinician",
        ),
        pytest.param(
            {"kind": "officer", "name": "A", "status": "available"},
            "status",
            id="status-is-not-settable-here",
        ),
    ],
)
def test_a_malformed_responder_is_refused(
    dispatcher: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = dispatcher.post("/v1/responders", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert dispatcher.get("/v1/responders").json() == []


def test_busy_statuses_cannot_be_set_by_hand(dispatcher: httpx.Client) -> None:
    clinician = responder(dispatcher, kind="clinician")
    response = dispatcher.put(
        f"/v1/responders/{clinician['id']}/status", json={"status": "on_scene"}
    )
    assert response.status_code == 422
    assert "follows from assignments" in response.json()["detail"]


def test_a_responder_on_a_call_cannot_go_off_duty_until_it_answers(
    dispatcher: httpx.Client,
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    dispatcher.post("/v1/calls", json=call_body())
    response = dispatcher.put(
        f"/v1/responders/{clinician['id']}/status", json={"status": "off_duty"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"


def test_the_same_cad_incident_twice_is_not_a_second_call(dispatcher: httpx.Client) -> None:
    first = dispatcher.post("/v1/calls", json=call_body(external_id="CAD-1"))
    again = dispatcher.post("/v1/calls", json=call_body(external_id="CAD-1"))
    assert first.status_code == 201
    assert again.status_code == 409
    assert first.json()["id"] in again.json()["detail"]
    assert len(dispatcher.get("/v1/calls").json()) == 1


def test_accepting_twice_is_a_conflict(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="clinician")
    call = dispatcher.post("/v1/calls", json=call_body()).json()
    url = f"/v1/assignments/{call['assignments'][0]['id']}"
    assert dispatcher.post(f"{url}/accept").status_code == 200
    again = dispatcher.post(f"{url}/decline")
    assert again.status_code == 409
    assert "accepted" in again.json()["detail"]


class TestAccess:
    def test_no_token_is_401(self, agency: AgencyKit) -> None:
        response = httpx.get(f"{agency.server.url}/v1/calls")
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"

    def test_unknown_token_is_401(self, agency: AgencyKit) -> None:
        response = httpx.get(
            f"{agency.server.url}/v1/calls", headers={"Authorization": "Bearer cr_nope"}
        )
        assert response.status_code == 401

    def test_a_responder_cannot_create_calls_or_responders(
        self, agency: AgencyKit, dispatcher: httpx.Client
    ) -> None:
        me = responder(dispatcher, kind="clinician")
        with agency.client(Role.responder, responder_id=me["id"]) as phone:
            assert phone.post("/v1/calls", json=call_body()).status_code == 403
            refused = phone.post("/v1/responders", json={"kind": "officer", "name": "X"})
            assert refused.status_code == 403
            assert refused.json()["error"] == "Forbidden"

    def test_a_responder_sees_only_itself(
        self, agency: AgencyKit, dispatcher: httpx.Client
    ) -> None:
        me = responder(dispatcher, kind="clinician")
        colleague = responder(dispatcher, kind="clinician", at=north_of(5000))
        with agency.client(Role.responder, responder_id=me["id"]) as phone:
            assert phone.get(f"/v1/responders/{me['id']}").status_code == 200
            assert phone.get(f"/v1/responders/{colleague['id']}").status_code == 404
            moved = phone.put(
                f"/v1/responders/{colleague['id']}/position", json={"lat": 40.0, "lon": -75.0}
            )
            assert moved.status_code == 404

    def test_another_agencys_call_is_404(self, agency: AgencyKit, dispatcher: httpx.Client) -> None:
        from service.agencies.operations import create_agency

        responder(dispatcher, kind="clinician")
        call = dispatcher.post("/v1/calls", json=call_body()).json()
        slug = agency.slug + "-y"
        theirs = agency.server.uow.write_sync(create_agency, slug=slug)
        kit = AgencyKit(server=agency.server, slug=slug, id=theirs.id)
        with kit.client(Role.supervisor) as other:
            assert other.get(f"/v1/calls/{call['id']}").status_code == 404
            assert other.get("/v1/calls").json() == []
