"""The audit trail misses nothing a reviewer would ask about: a replayed answer that
shows a narrative again, a supervisor reading the trail, the refusals that belong to no
agency, and what a change changed; and an Idempotency-Key tells a token nothing its role
may not know."""

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from models.vocabulary import Role
from tests.conftest import CORESPOND, AgencyKit, Server
from tests.service.consoles import console
from tests.service.factories import audit_records, call_body, responder


@pytest.fixture
def supervisor(agency: AgencyKit) -> httpx.Client:
    return agency.client(Role.supervisor)


def _host_audit(cli: Callable[..., str], *args: str) -> list[dict[str, Any]]:
    """`corespond audit list --json …` on the server's host, one record a line."""
    return [json.loads(line) for line in cli("audit", "list", "--json", *args).splitlines()]


def test_a_retry_that_shows_the_narrative_again_is_recorded_again(
    dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician")
    body = call_body(narrative="Sister says he has not slept in four days.")
    headers = {"Idempotency-Key": "cad-5521"}
    first = dispatcher.post("/v1/calls", json=body, headers=headers)
    again = dispatcher.post("/v1/calls", json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["narrative"] == "Sister says he has not slept in four days."

    replay, creation = audit_records(supervisor, action="POST /v1/calls")
    call = f"call:{first.json()['id']}"
    assert (creation["target"], creation["status"], creation["outcome"]) == (call, 201, "success")
    assert (replay["target"], replay["status"], replay["outcome"]) == (call, 201, "success")
    assert replay["detail"]["replayed"] is True
    assert replay["detail"]["calls"] == {first.json()["id"]: ["narrative"]}


def test_a_supervisor_reading_the_trail_is_itself_recorded(
    agency: AgencyKit, supervisor: httpx.Client
) -> None:
    audit_records(supervisor, action="logon", limit=20)
    with agency.client(Role.admin) as admin:
        [read] = audit_records(admin, action="GET /v1/audit")
    assert (read["role"], read["outcome"], read["status"]) == ("supervisor", "success", 200)
    assert read["detail"]["filters"] == {"action": "logon", "limit": 20}
    assert read["detail"]["records"] == 0


def test_refusals_of_nobodys_agency_are_listed_on_the_servers_host(
    agency: AgencyKit, cli: Callable[..., str]
) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    made_up = {"Authorization": f"Bearer cr_{uuid.uuid4().hex}"}
    probe = f"/v1/admin-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=agency.server.url) as stranger:
        assert stranger.get("/v1/responders", headers=made_up).status_code == 401
        assert stranger.get(probe).status_code == 404
    with agency.client(Role.supervisor) as supervisor:
        assert audit_records(supervisor, action=f"GET {probe}") == []

    [guess] = _host_audit(cli, "--no-agency", "--since", since, "--action", "GET /v1/responders")
    assert (guess["agency"], guess["status"], guess["outcome"]) == (None, 401, "denied")
    assert guess["detail"] == {"token": "unknown"} and guess["source"] == "127.0.0.1"
    [lost] = _host_audit(cli, "--since", since, "--action", f"GET {probe}")
    assert (lost["agency"], lost["status"], lost["outcome"]) == (None, 404, "denied")

    table = cli("audit", "list", "--no-agency", "--since", since, "--outcome", "denied")
    assert f"GET {probe}" in table and "GET /v1/responders" in table
    readings = _host_audit(cli, "--no-agency", "--since", since, "--action", "audit list")
    assert [r["source"] for r in readings] == ["command line"] * 3  # the three reads above
    assert readings[0]["detail"]["filters"]["outcome"] == "denied"


def test_the_host_lists_one_agencys_records_by_its_slug(
    agency: AgencyKit, dispatcher: httpx.Client, cli: Callable[..., str]
) -> None:
    responder(dispatcher, kind="clinician", at=None, status="off_duty")
    [made] = _host_audit(cli, "--agency", agency.slug, "--action", "POST /v1/responders")
    assert (made["agency"], made["role"], made["status"]) == (agency.slug, "dispatcher", 201)


def test_the_host_refuses_an_ambiguous_date_and_a_contradiction(server: Server) -> None:
    def refusal(*args: str) -> str:
        done = subprocess.run(
            [CORESPOND, "audit", "list", *args], env=server.env, capture_output=True, text=True
        )
        assert done.returncode != 0 and not done.stdout
        return done.stderr

    assert "'0.5': give an ISO 8601 date and time with its offset" in refusal("--until", "0.5")
    assert "contradict" in refusal("--agency", "somewhere", "--no-agency")
    assert "no agency 'nowhere'" in refusal("--agency", "nowhere")


def test_a_status_change_keeps_the_new_status_in_the_trail(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=(40.1215, -75.3399))
    [moved] = audit_records(supervisor, action="PUT /v1/responders/{responder_id}/position")
    assert moved["status"] == 200 and moved["target"] == f"responder:{clinician['id']}"
    assert moved["detail"] == {"lat": 40.1215, "lon": -75.3399}
    [available] = audit_records(supervisor, action="PUT /v1/responders/{responder_id}/status")
    assert available["status"] == 200 and available["detail"] == {"status": "available"}

    offer = dispatcher.post("/v1/calls", json=call_body()).json()["assignments"][0]["id"]
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        assert phone.post(f"/v1/assignments/{offer}/accept").status_code == 200
        moving = phone.post(f"/v1/assignments/{offer}/status", json={"status": "en_route"})
        assert moving.status_code == 200
    [progress] = audit_records(supervisor, action="POST /v1/assignments/{assignment_id}/status")
    assert progress["detail"] == {"status": "en_route"}


def test_progress_over_the_socket_keeps_the_new_status_in_the_trail(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    offer = dispatcher.post("/v1/calls", json=call_body()).json()["assignments"][0]["id"]
    token = agency.token(Role.responder, responder_id=clinician["id"])
    with console(agency.server.ws_url, token) as phone:
        phone.send({"type": "accept", "assignment_id": offer})
        assert phone.next_of_type("result")["assignment"]["state"] == "accepted"
        phone.send({"type": "status", "assignment_id": offer, "status": "on_scene"})
        assert phone.next_of_type("result")["assignment"]["state"] == "on_scene"
    [progress] = audit_records(supervisor, action="ws status")
    assert progress["outcome"] == "success" and progress["detail"] == {"status": "on_scene"}


def test_a_responder_reusing_a_dispatchers_key_is_refused_for_its_role(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    headers = {"Idempotency-Key": "cad-7781"}
    assert dispatcher.post("/v1/calls", json=call_body(), headers=headers).status_code == 201
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        reused = phone.post("/v1/calls", json=call_body(), headers=headers)
        fresh = phone.post("/v1/calls", json=call_body(), headers={"Idempotency-Key": "x-1"})
    assert (reused.status_code, reused.json()["error"]) == (403, "Forbidden")
    assert reused.json() == fresh.json()
    again = dispatcher.post("/v1/calls", json=call_body(), headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("before", "9223372036854775808"),
        ("before", "0"),
        ("until", "0.5"),
        ("since", "1767225600"),
        ("since", "2026-01-01"),
        ("until", "99999-01-01T00:00:00Z"),
        ("limit", "501"),
    ],
)
def test_an_out_of_range_or_ambiguous_filter_is_refused_by_name(
    supervisor: httpx.Client, name: str, value: str
) -> None:
    refused = supervisor.get("/v1/audit", params={name: value})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "ValidationError"
    assert refused.json()["detail"].startswith(f"{name}: ")


def test_the_largest_id_and_a_dated_filter_are_taken(supervisor: httpx.Client) -> None:
    assert supervisor.get("/v1/audit", params={"before": 2**63 - 1}).status_code == 200
    assert audit_records(supervisor, until="2020-01-01T00:00:00+01:00") == []
