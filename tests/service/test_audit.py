"""The audit trail as a supervisor reads it: every logon, change, refusal and read of
a call's sensitive fields, with who, what, when, from where and how it ended."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from models.audit import AuditRecord
from models.vocabulary import Role
from service.store.transaction import Tx
from service.trust.audit import purge_old_audit
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, audit_records, call_body, post_call, responder


@pytest.fixture
def supervisor(agency: AgencyKit) -> httpx.Client:
    return agency.client(Role.supervisor)


def test_a_change_is_recorded_with_who_what_when_where_and_outcome(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    responder(dispatcher, kind="clinician")
    call = post_call(dispatcher, external_id="CAD-1")
    [record] = audit_records(supervisor, action="POST /v1/calls")
    assert record["target"] == f"call:{call['id']}"
    assert record["outcome"] == "success" and record["status"] == 201
    assert record["role"] == "dispatcher" and record["token_id"]
    assert record["source"] == "127.0.0.1"
    assert before <= datetime.fromisoformat(record["at"]) <= datetime.now(UTC)
    moves = audit_records(supervisor, action="PUT /v1/responders/{responder_id}/status")
    assert [m["outcome"] for m in moves] == ["success"]


def test_refusals_are_recorded_and_nothing_else_is_written(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        assert phone.post("/v1/calls", json=call_body()).status_code == 403
    assert dispatcher.post("/v1/calls", json={**call_body(), "priority": 9}).status_code == 422
    refused = audit_records(supervisor, action="POST /v1/calls")
    assert [(r["outcome"], r["status"], r["role"]) for r in refused] == [
        ("rejected", 422, "dispatcher"),
        ("denied", 403, "responder"),
    ]
    assert dispatcher.get("/v1/calls").json() == []


def test_a_revoked_tokens_use_is_recorded_in_its_agency(
    agency: AgencyKit, supervisor: httpx.Client, cli: Any
) -> None:
    token = cli("token", "create", "--agency", agency.slug, "--role", "cad", "--label", "old-cad")
    token = token.splitlines()[-1]
    listing = cli("token", "list", "--agency", agency.slug)
    token_id = next(line.split()[0] for line in listing.splitlines() if "old-cad" in line)
    cli("token", "revoke", token_id)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{agency.server.url}/v1/calls", headers=headers).status_code == 401
    with httpx.Client(base_url=agency.server.url) as anyone:
        anyone.get("/v1/calls", headers=headers)
    [use, _] = audit_records(supervisor, token_id=token_id, outcome="denied")
    assert use["action"] == "GET /v1/calls" and use["status"] == 401
    assert use["detail"] == {"token": "revoked"}
    [revocation] = audit_records(supervisor, action="token revoke")
    assert revocation["source"] == "command line"


def test_socket_logons_and_actions_are_recorded(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    call = post_call(dispatcher)
    offer = call["assignments"][0]["id"]
    token = agency.token(Role.responder, responder_id=clinician["id"])
    with console(agency.server.ws_url, token) as phone:
        phone.send({"type": "accept", "assignment_id": offer})
        assert phone.next_of_type("result")["assignment"]["state"] == "accepted"
        phone.send({"type": "accept", "assignment_id": offer})
        assert phone.next_of_type("error")["error"] == "Conflict"
    [logon] = audit_records(supervisor, action="logon")
    assert logon["outcome"] == "success" and logon["responder_id"] == clinician["id"]
    actions = audit_records(supervisor, action="ws accept", target=f"assignment:{offer}")
    assert [a["outcome"] for a in actions] == ["rejected", "success"]


def test_reading_a_narrative_is_recorded_and_a_read_without_one_is_not(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR)
    responder(dispatcher, kind="clinician")
    call = post_call(dispatcher, weapon=True, narrative="Hearing voices; has a bat.")
    assert dispatcher.get(f"/v1/calls/{call['id']}").json()["narrative"]
    dispatcher.get("/v1/calls")
    with agency.client(Role.responder, responder_id=officer["id"]) as car:
        assert car.get(f"/v1/calls/{call['id']}").json()["narrative"] is None
    reads = audit_records(supervisor, action="GET /v1/calls/{call_id}")
    assert [(r["role"], r["target"]) for r in reads] == [("dispatcher", f"call:{call['id']}")]
    assert reads[0]["detail"]["calls"] == {call["id"]: ["narrative"]}
    [listing] = audit_records(supervisor, action="GET /v1/calls")
    assert call["id"] in listing["detail"]["calls"]


def test_supervisors_filter_and_page_the_trail_and_nobody_else_reads_it(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    for n in range(5):
        responder(dispatcher, kind="clinician", at=None, status="off_duty", name=f"C{n}")
    made = audit_records(supervisor, action="POST /v1/responders")
    assert len(made) == 5
    assert [r["id"] for r in made] == sorted((r["id"] for r in made), reverse=True)
    first_page = audit_records(supervisor, action="POST /v1/responders", limit=2)
    second_page = audit_records(
        supervisor, action="POST /v1/responders", limit=2, before=first_page[-1]["id"]
    )
    assert [r["id"] for r in first_page + second_page] == [r["id"] for r in made[:4]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert audit_records(supervisor, since=future) == []
    assert len(audit_records(supervisor, until=future, action="POST /v1/responders")) == 5
    assert supervisor.get("/v1/audit", params={"since": "2026-01-01T00:00:00"}).status_code == 422
    assert dispatcher.get("/v1/audit").status_code == 403
    with agency.client(Role.admin) as admin:
        assert len(admin.get("/v1/audit", params={"action": "POST /v1/responders"}).json()) == 5


def test_the_trail_cannot_be_changed(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician", at=None, status="off_duty")
    [record] = audit_records(supervisor, action="POST /v1/responders")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert supervisor.request(method, "/v1/audit").status_code == 405
        assert supervisor.request(method, f"/v1/audit/{record['id']}").status_code in (404, 405)

    def rewrite(tx: Tx) -> None:
        tx.session.execute(
            text("UPDATE audit_record SET outcome = 'success' WHERE id = :id"), {"id": record["id"]}
        )

    with pytest.raises(DatabaseError, match="append-only"):
        agency.server.uow.write_sync(rewrite)


def test_records_past_retention_are_purged_and_newer_ones_kept(agency: AgencyKit) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)

    def plant(tx: Tx) -> None:
        tx.session.add(
            AuditRecord(at=long_ago, agency_id=agency.id, action="old", outcome="success")
        )
        tx.session.add(AuditRecord(at=tx.now, agency_id=agency.id, action="new", outcome="success"))

    agency.server.uow.write_sync(plant)
    assert agency.server.uow.write_sync(purge_old_audit, keep=timedelta(days=365)) >= 1

    def actions(tx: Tx) -> set[str]:
        rows = tx.session.execute(
            text("SELECT action FROM audit_record WHERE agency_id = :a"), {"a": agency.id.hex}
        )
        return {r[0] for r in rows}

    assert agency.server.uow.read_sync(actions) == {"new"}


def test_the_purge_takes_the_oldest_records_a_batch_at_a_time(agency: AgencyKit) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)

    def plant(tx: Tx) -> None:
        for n in range(5):
            tx.session.add(
                AuditRecord(
                    at=long_ago + timedelta(seconds=n),
                    agency_id=agency.id,
                    action=f"old {n}",
                    outcome="success",
                )
            )

    def old_actions(tx: Tx) -> list[str]:
        rows = tx.session.execute(
            text("SELECT action FROM audit_record WHERE agency_id = :a AND action LIKE 'old %'"),
            {"a": agency.id.hex},
        )
        return sorted(r[0] for r in rows)

    uow = agency.server.uow
    uow.write_sync(plant)
    assert uow.write_sync(purge_old_audit, keep=timedelta(days=365), limit=2) == 2
    assert uow.read_sync(old_actions) == ["old 2", "old 3", "old 4"]
    while uow.write_sync(purge_old_audit, keep=timedelta(days=365), limit=2) == 2:
        pass
    assert uow.read_sync(old_actions) == []
