"""The two promises: a call that got a 2xx exists after any crash, and a responder
holds at most one active assignment, under concurrency and across a kill -9."""

import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from models.event import Event
from models.vocabulary import Role
from service.agencies.operations import create_agency
from service.store.transaction import Tx
from tests.conftest import AgencyKit, Server, start_server, stop_server
from tests.service.crash import acknowledged, stream_calls_then_stop
from tests.service.factories import call_body, north_of, responder

ACTIVE = {"offered", "accepted", "en_route", "on_scene"}


def _assert_nobody_double_booked(calls: list[dict[str, Any]]) -> None:
    active: dict[str, list[str]] = {}
    for call in calls:
        for a in call["assignments"]:
            if a["state"] in ACTIVE:
                active.setdefault(a["responder_id"], []).append(call["id"])
    doubled = {rid: ids for rid, ids in active.items() if len(ids) > 1}
    assert doubled == {}


def _all_calls(client: httpx.Client) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    while True:
        page = client.get("/v1/calls", params={"limit": 500, "offset": len(calls)}).json()
        calls += page
        if len(page) < 500:
            return calls


def _agency_seqs(server: Server, agency_id: object) -> list[int]:
    def read(tx: Tx) -> list[int]:
        query = select(col(Event.seq)).where(col(Event.agency_id) == agency_id)
        return list(tx.session.execute(query.order_by(col(Event.seq))).scalars())

    return server.uow.read_sync(read)


def _six_clinicians(server: Server, slug: str) -> AgencyKit:
    """A new agency on `server` with six available clinicians 300 m apart."""
    created = server.uow.write_sync(create_agency, slug=slug)
    kit = AgencyKit(server=server, slug=slug, id=created.id)
    with kit.client(Role.dispatcher) as desk:
        for i in range(6):
            responder(desk, kind="clinician", at=north_of(300 * i))
    return kit


def test_fifty_calls_at_once_over_ten_clinicians(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    people = [responder(dispatcher, kind="clinician", at=north_of(150 * i)) for i in range(10)]
    clients = [agency.client(Role.cad) for _ in range(5)]

    def post(i: int) -> httpx.Response:
        body = call_body(at=north_of(37 * i), external_id=f"CAD-{i}")
        return clients[i % 5].post("/v1/calls", json=body)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(post, range(50)))
    for client in clients:
        client.close()

    assert [a.status_code for a in answers] == [201] * 50
    calls = _all_calls(dispatcher)
    assert len(calls) == 50
    _assert_nobody_double_booked(calls)
    assert {c["status"] for c in calls} <= {"pending", "dispatched"}
    assert sum(c["status"] == "dispatched" for c in calls) == len(people)
    board = dispatcher.get("/v1/responders", params={"status": "offered"}).json()
    assert len(board) == len(people)
    seqs = _agency_seqs(agency.server, agency.id)
    assert len(seqs) == len(set(seqs))


def test_the_event_log_has_no_gaps_under_concurrent_writers(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    def read(tx: Tx) -> list[int]:
        query = select(col(Event.seq)).order_by(col(Event.seq))
        return list(tx.session.execute(query).scalars())

    before = agency.server.uow.read_sync(read)
    clinician = responder(dispatcher, kind="clinician")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda i: dispatcher.put(
                    f"/v1/responders/{clinician['id']}/position",
                    json={"lat": north_of(i)[0], "lon": north_of(i)[1]},
                ),
                range(40),
            )
        )
    after = agency.server.uow.read_sync(read)
    new = [s for s in after if s not in set(before)]
    assert len(new) >= 40
    assert new == list(range(new[0], new[0] + len(new)))


def test_a_kill_9_loses_no_acknowledged_call_and_pending_offers_still_expire(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path)
    try:
        kit = _six_clinicians(server, "crash")
        kit.set_offer_timeout(2)
        answered = acknowledged(
            stream_calls_then_stop([lambda: kit.client(Role.cad)] * 3, server.process, before=8)
        )
    finally:
        stop_server(server)
    assert len(answered) >= 3, "too few calls got through before the kill"

    restarted = start_server(tmp_path)  # the same database file
    try:
        after = AgencyKit(server=restarted, slug=kit.slug, id=kit.id)
        with after.client(Role.dispatcher) as desk:
            for call in answered:
                assert desk.get(f"/v1/calls/{call['id']}").status_code == 200
            _assert_nobody_double_booked(_all_calls(desk))
            offered = [
                a["id"] for c in answered for a in c["assignments"] if a["state"] == "offered"
            ]
            assert offered
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                states = {desk.get(f"/v1/assignments/{aid}").json()["state"] for aid in offered}
                if states == {"expired"}:
                    break
                time.sleep(0.2)
            assert states == {"expired"}
            _assert_nobody_double_booked(_all_calls(desk))
    finally:
        stop_server(restarted)


def test_a_graceful_stop_mid_stream_answers_what_it_took_and_retries_make_each_call_once(
    tmp_path: Path,
) -> None:
    """A deploy stops the server (SIGTERM) while four CAD links post calls, each with an
    Idempotency-Key. Every call the server took is answered 201 and kept; the others
    get no answer or 503, and nothing else; after the restart the CAD retries those
    with their keys, and every call exists exactly once."""
    # uvicorn's info lines say whether the stop ran its course (a kill would pass the
    # rest: the retries with their keys make up for calls cut off mid-way)
    server = start_server(tmp_path, extra_env={"CORESPOND_LOG_LEVEL": "info"})
    try:
        kit = _six_clinicians(server, "deploy")
        sent = stream_calls_then_stop(
            [lambda: kit.client(Role.cad)] * 4,
            server.process,
            before=20,
            how=signal.SIGTERM,
            keyed=True,
        )
    finally:
        stop_server(server)
    stopped = server.log.read_text()
    assert "Application shutdown complete." in stopped, stopped[-2000:]  # writer drained
    assert "Finished server process" in stopped, stopped[-2000:]
    answered = acknowledged(sent)
    assert len(answered) >= 20
    unanswered = [s for s in sent if s.status != 201]
    assert unanswered, "no client met the stopped server"
    assert {s.status for s in unanswered} <= {None, 503}, [(s.status, s.answer) for s in sent]

    restarted = start_server(tmp_path)  # the same database file
    try:
        after = AgencyKit(server=restarted, slug=kit.slug, id=kit.id)
        with after.client(Role.dispatcher) as desk, after.client(Role.cad) as cad:
            for call in answered:
                assert desk.get(f"/v1/calls/{call['id']}").status_code == 200
            for s in unanswered:
                assert s.key is not None
                # 409 while the stopped server's claim on the key is fresh (30 s)
                deadline = time.monotonic() + 45
                while True:
                    retry = cad.post("/v1/calls", json=s.body, headers={"Idempotency-Key": s.key})
                    if retry.status_code != 409 or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert retry.status_code == 201, retry.text
            calls = _all_calls(desk)
            made = Counter(c["external_id"] for c in calls)
            assert made == Counter(s.key for s in sent)  # each once, none missing
            _assert_nobody_double_booked(calls)
    finally:
        stop_server(restarted)
