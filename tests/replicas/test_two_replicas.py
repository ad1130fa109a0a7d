"""Any replica takes any request or socket: what is posted to one reaches consoles on
the other; concurrent calls on both never double-book; offer expiries run by both
act once; a replica killed with -9 loses no acknowledged call and its consoles miss
nothing by resuming on the other; a Redis restart loses no event."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col
from websockets.exceptions import ConnectionClosed

from models.event import Event
from models.vocabulary import Role
from service.agencies.operations import create_agency
from service.store.transaction import Tx
from tests.conftest import (
    AgencyKit,
    Server,
    database_url,
    new_agency,
    start_server,
    stop_server,
)
from tests.replicas.conftest import Pair, RedisServer, shared_bus, start_pair, wait_for_status
from tests.service import crash
from tests.service.consoles import TestConsole, console
from tests.service.factories import call_body, north_of, responder

ENDS = {"expired", "declined", "cleared", "cancelled"}


def _on(kit: AgencyKit, server: Server) -> AgencyKit:
    """The same agency, reached through another replica."""
    return AgencyKit(server=server, slug=kit.slug, id=kit.id)


def _log(server: Server, agency_id: uuid.UUID) -> list[Event]:
    def read(tx: Tx) -> list[Event]:
        query = select(Event).where(col(Event.agency_id) == agency_id).order_by(col(Event.seq))
        return list(tx.session.execute(query).scalars())

    return server.uow.read_sync(read)


def _calls_created(frames: list[dict[str, Any]]) -> list[str]:
    return [
        f["data"]["id"] for f in frames if f.get("type") == "event" and f["event"] == "call.created"
    ]


def _collect(board: TestConsole, want: set[str], timeout_s: float = 20) -> list[dict[str, Any]]:
    """Frames from `board` until every call in `want` was created on it."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while not want <= set(_calls_created(frames)) and time.monotonic() < deadline:
        try:
            frames.append(board.recv(timeout=1))
        except TimeoutError:
            continue
    return frames


def _in_order_once(frames: list[dict[str, Any]]) -> None:
    seqs = [f["seq"] for f in frames if f.get("type") == "event"]
    assert seqs == sorted(set(seqs)), "events arrived out of order or twice"


def test_a_call_posted_to_one_replica_reaches_the_clinician_on_the_other(pair: Pair) -> None:
    kit = new_agency(pair.a)
    with kit.client(Role.dispatcher) as desk:
        clinician = responder(desk, kind="clinician")
    on_b = _on(kit, pair.b)
    field_token = kit.token(Role.responder, responder_id=clinician["id"])
    with (
        console(pair.b.ws_url, field_token) as field,
        console(pair.a.ws_url, kit.token(Role.dispatcher)) as board_on_a,
        kit.client(Role.cad) as cad_on_a,
    ):
        posted = cad_on_a.post("/v1/calls", json=call_body(external_id="R-1"))
        assert posted.status_code == 201, posted.text
        offer = field.next_event("assignment.offered")
        assert offer["data"]["call"]["id"] == posted.json()["id"]
        assignment_id = offer["data"]["assignment"]["id"]

        field.send({"type": "accept", "assignment_id": assignment_id})
        result = field.next_of_type("result")
        assert result["assignment"]["state"] == "accepted"

        accepted = board_on_a.next_event("assignment.accepted")  # B's change, seen on A
        assert accepted["data"]["assignment"]["id"] == assignment_id
        with on_b.client(Role.dispatcher) as desk_on_b:
            assert desk_on_b.get(f"/v1/assignments/{assignment_id}").json()["state"] == "accepted"

    on_a_metrics, on_b_metrics = pair.a.metrics(), pair.b.metrics()
    assert on_a_metrics["corespond_offers_total"] >= 1  # the offer was made on A
    assert on_a_metrics["corespond_dispatch_decision_seconds_count"] >= 1
    assert on_a_metrics["corespond_bus_lag_seconds_count"] >= 1  # B's accept, heard on A
    assert on_b_metrics["corespond_time_to_accept_seconds_count"] >= 1  # accepted on B
    assert on_b_metrics["corespond_bus_up"] == 1


def test_calls_on_both_replicas_at_once_never_double_book_and_expiries_act_once(
    pair: Pair,
) -> None:
    kit = new_agency(pair.a)
    kit.set_offer_timeout(1)  # offers expire and move on while the calls wait
    with kit.client(Role.dispatcher) as desk:
        people = [responder(desk, kind="clinician", at=north_of(200 * i)) for i in range(4)]
    clients = [kit.client(Role.cad), _on(kit, pair.b).client(Role.cad)]

    def post(i: int) -> httpx.Response:
        body = call_body(at=north_of(41 * i), external_id=f"RR-{i}")
        return clients[i % 2].post("/v1/calls", json=body)

    token = kit.token(Role.dispatcher)
    with console(pair.a.ws_url, token) as board_a, console(pair.b.ws_url, token) as board_b:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(post, range(40)))
        assert [a.status_code for a in answers] == [201] * 40
        ids = {a.json()["id"] for a in answers}
        # Both replicas published at once: each board still gets every event once, in order.
        for board in (board_a, board_b):
            frames = _collect(board, ids)
            _in_order_once(frames)
            assert set(_calls_created(frames)) == ids
    time.sleep(3)  # several rounds of expiry on both replicas' timers
    kit.set_offer_timeout(60)  # then let the last one-second offers run out, and hold still
    time.sleep(1.5)
    for client in clients:
        client.close()

    events = _log(pair.a, kit.id)
    expired = [e.assignment_id for e in events if e.type == "assignment.expired"]
    assert expired, "no offer expired: the timers did not run"
    assert len(expired) == len(set(expired)), "an offer expired twice"
    active: dict[uuid.UUID | None, set[uuid.UUID | None]] = {}
    for event in events:  # replay the log: at every moment, one active offer a responder
        if not event.type.startswith("assignment."):
            continue
        held = active.setdefault(event.responder_id, set())
        if event.type == "assignment.offered":
            held.add(event.assignment_id)
            assert len(held) == 1, f"responder {event.responder_id} double-booked at {event.seq}"
        elif event.type.removeprefix("assignment.") in ENDS:
            held.discard(event.assignment_id)
    # What the log says each responder holds is what their status says: all four are
    # offered a call (36 still wait), none twice.
    holding = {str(rid) for rid, held in active.items() if held}
    with kit.client(Role.dispatcher) as desk:
        board = desk.get("/v1/responders", params={"status": "offered"}).json()
    assert {r["id"] for r in board} == holding == {p["id"] for p in people}


def test_a_replica_killed_mid_stream_loses_no_call_and_its_console_resumes_on_the_other(
    tmp_path: Path,
) -> None:
    first = start_pair(tmp_path, shared_bus("redis", tmp_path))
    try:
        created = first.a.uow.write_sync(create_agency, slug="kill9")
        kit = AgencyKit(server=first.a, slug="kill9", id=created.id)
        with kit.client(Role.dispatcher) as desk:
            for i in range(3):
                responder(desk, kind="clinician", at=north_of(300 * i))
        token = kit.token(Role.dispatcher)
        seen: list[dict[str, Any]] = []
        with console(first.a.ws_url, token) as board:
            reader = threading.Thread(target=_read_until_closed, args=(board, seen))
            reader.start()
            # Posting to A and B, two threads each; A dies; B takes ten more.
            acknowledged = [
                answer["id"]
                for answer in crash.acknowledged(
                    crash.stream_calls_then_stop(
                        [partial(_on(kit, s).client, Role.cad) for s in (first.a, first.b) * 2],
                        first.a.process,
                        before=10,
                        after=10,
                    )
                )
            ]
            reader.join(timeout=30)
        last = max((f["seq"] for f in seen if f.get("type") == "event"), default=None)
        assert last is not None, "the console on A saw nothing before the kill"

        with console(first.b.ws_url, token, resume_after=last) as again:
            rest = _collect(again, set(acknowledged) - set(_calls_created(seen)))
        every = [f for f in seen + rest if f.get("type") == "event"]
        _in_order_once(every)
        assert set(acknowledged) <= set(_calls_created(every)), "a 201 call never reached it"
        with _on(kit, first.b).client(Role.dispatcher) as desk:
            for call_id in acknowledged:
                assert desk.get(f"/v1/calls/{call_id}").status_code == 200
    finally:
        stop_server(first.a)
        stop_server(first.b)


def test_a_redis_restart_mid_stream_loses_no_event(tmp_path: Path, own_redis: RedisServer) -> None:
    both = start_pair(tmp_path, f"{own_redis.url}?channel=restart")
    try:
        kit = new_agency(both.a)
        posted: list[str] = []

        def post(n: int) -> None:
            with kit.client(Role.cad) as cad:  # always to A; the console is on B
                for _ in range(n):
                    answer = cad.post("/v1/calls", json=call_body())
                    assert answer.status_code == 201, answer.text
                    posted.append(answer.json()["id"])

        with console(both.b.ws_url, kit.token(Role.dispatcher)) as board:
            post(3)
            frames = _collect(board, set(posted))
            own_redis.stop()
            down = wait_for_status(f"{both.b.url}/readyz", 503)
            assert down.status_code == 503
            assert down.json()["bus"] != "ok" and down.json()["database"] == "ok"
            post(3)  # A cannot publish these: B finds them in the log
            frames += _collect(board, set(posted))
            own_redis.start()
            assert wait_for_status(f"{both.b.url}/readyz", 200).status_code == 200
            post(3)
            frames += _collect(board, set(posted))
        assert _calls_created(frames) == posted, "a call was lost, repeated or reordered"
        _in_order_once(frames)
        assert all(f.get("type") != "resync" for f in frames)
        assert "bus_connection_lost" in both.b.log.read_text()  # noticed, and said
    finally:
        stop_server(both.a)
        stop_server(both.b)


def test_with_redis_as_the_counter_one_rate_limit_holds_across_replicas(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    limits = {"CORESPOND_RATE_LIMIT": "6/minute", "CORESPOND_RATE_LIMIT_STORAGE": own_redis.url}
    both = start_pair(tmp_path, f"{own_redis.url}?channel=limits", limits)
    try:
        kit = new_agency(both.a)
        token = kit.token(Role.dispatcher)
        headers = {"Authorization": f"Bearer {token}"}
        answers = [
            httpx.get(f"{server.url}/v1/calls", headers=headers, timeout=10).status_code
            for server in [both.a, both.b] * 4
        ]
        assert answers == [200] * 6 + [429] * 2  # six in all, not six on each
        refused = httpx.get(f"{both.b.url}/v1/calls", headers=headers, timeout=10)
        assert int(refused.headers["retry-after"]) >= 1

        own_redis.stop()  # no counter: requests go through rather than being refused
        fresh = {"Authorization": f"Bearer {kit.token(Role.dispatcher)}"}
        assert httpx.get(f"{both.a.url}/v1/calls", headers=fresh, timeout=10).status_code == 200
        assert "rate_limit_unavailable" in both.a.log.read_text()
    finally:
        stop_server(both.a)
        stop_server(both.b)


def _read_until_closed(board: TestConsole, into: list[dict[str, Any]]) -> None:
    while True:
        try:
            into.append(board.recv(timeout=30))
        except (ConnectionClosed, TimeoutError, EOFError):
            return


def test_two_replicas_started_at_once_on_an_empty_database_both_come_up(tmp_path: Path) -> None:
    """Both migrate on start; they take turns, and the second finds the schema current."""
    database_url(tmp_path)  # the empty database, made before either starts
    env = {"CORESPOND_BUS_URL": shared_bus("redis", tmp_path)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = list(
            pool.map(lambda name: start_server(tmp_path, name=name, extra_env=env), ["a", "b"])
        )
    try:
        for server in started:
            assert httpx.get(f"{server.url}/readyz", timeout=5).json()["status"] == "ok"
            assert "Traceback" not in server.log.read_text()
        kit = new_agency(started[0])
        with _on(kit, started[1]).client(Role.dispatcher) as desk:
            assert desk.get("/v1/calls").status_code == 200
    finally:
        for server in started:
            stop_server(server)
