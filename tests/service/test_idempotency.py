"""A CAD that retries never creates a second call."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col

from models.columns import utcnow
from models.idempotency import IdempotentRequest
from service.store.transaction import Tx
from service.trust.idempotency import forget_old
from tests.conftest import AgencyKit
from tests.service.factories import call_body, responder


def test_a_retry_with_the_same_key_gets_the_first_answer(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="clinician")
    headers = {"Idempotency-Key": "cad-118204-a"}

    first = dispatcher.post("/v1/calls", json=call_body(), headers=headers)
    again = dispatcher.post("/v1/calls", json=call_body(), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(dispatcher.get("/v1/calls").json()) == 1


def test_the_same_key_with_another_body_is_refused(dispatcher: httpx.Client) -> None:
    headers = {"Idempotency-Key": "cad-118204-b"}
    assert dispatcher.post("/v1/calls", json=call_body(), headers=headers).status_code == 201

    other = dispatcher.post("/v1/calls", json=call_body(priority=1), headers=headers)

    assert other.status_code == 422
    assert "different request" in other.json()["detail"]
    assert len(dispatcher.get("/v1/calls").json()) == 1


def test_concurrent_retries_create_one_call(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="clinician")
    headers = {"Idempotency-Key": "cad-118204-c"}

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda _: dispatcher.post("/v1/calls", json=call_body(), headers=headers),
                range(8),
            )
        )

    assert {a.status_code for a in answers} <= {201, 409}
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    assert [c["id"] for c in dispatcher.get("/v1/calls").json()] == list(created)


def test_a_request_still_in_flight_is_409_until_it_is_abandoned(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "cad-118204-d"}
    assert dispatcher.post("/v1/calls", json=call_body(), headers=headers).status_code == 201

    def pretend_in_flight(tx: Tx, started_ago: timedelta) -> None:
        tx.session.execute(
            update(IdempotentRequest)
            .where(col(IdempotentRequest.key) == headers["Idempotency-Key"])
            .values(finished_at=None, response_status=None, started_at=utcnow() - started_ago)
        )

    agency.server.uow.write_sync(pretend_in_flight, timedelta(seconds=1))
    in_flight = dispatcher.post("/v1/calls", json=call_body(), headers=headers)
    assert in_flight.status_code == 409
    assert "in flight" in in_flight.json()["detail"]

    agency.server.uow.write_sync(pretend_in_flight, timedelta(minutes=5))
    taken_over = dispatcher.post("/v1/calls", json=call_body(), headers=headers)
    assert taken_over.status_code == 201


def test_a_failed_request_frees_its_key(dispatcher: httpx.Client) -> None:
    assert dispatcher.post("/v1/calls", json=call_body(external_id="CAD-9")).status_code == 201
    headers = {"Idempotency-Key": "cad-9-retry"}

    duplicate = dispatcher.post("/v1/calls", json=call_body(external_id="CAD-9"), headers=headers)
    retried = dispatcher.post("/v1/calls", json=call_body(external_id="CAD-9"), headers=headers)

    assert duplicate.status_code == retried.status_code == 409
    assert "Idempotent-Replayed" not in retried.headers


def test_accepting_with_a_key_twice_answers_the_same(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="clinician")
    aid = dispatcher.post("/v1/calls", json=call_body()).json()["assignments"][0]["id"]
    headers = {"Idempotency-Key": "accept-1"}

    first = dispatcher.post(f"/v1/assignments/{aid}/accept", headers=headers)
    again = dispatcher.post(f"/v1/assignments/{aid}/accept", headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


def test_a_malformed_key_is_422(dispatcher: httpx.Client) -> None:
    answer = dispatcher.post("/v1/calls", json=call_body(), headers={"Idempotency-Key": "a b"})
    assert answer.status_code == 422
    assert "idempotency-key" in answer.json()["detail"].lower()


def test_stored_answers_are_forgotten_after_a_day(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "cad-118204-old"}
    first = dispatcher.post("/v1/calls", json=call_body(), headers=headers)

    def age(tx: Tx) -> None:
        tx.session.execute(
            update(IdempotentRequest)
            .where(col(IdempotentRequest.key) == headers["Idempotency-Key"])
            .values(started_at=utcnow() - timedelta(hours=25))
        )

    agency.server.uow.write_sync(age)
    assert agency.server.uow.write_sync(forget_old) >= 1
    again = dispatcher.post("/v1/calls", json=call_body(external_id=None), headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
