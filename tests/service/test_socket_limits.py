"""The console socket's caps: consoles per token and per address, sockets waiting for
their hello, messages a second; acks bounded at the door and stored one console apart
from another; and a token offered in the handshake never echoed back."""

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from models.agency import ApiToken
from models.vocabulary import Role
from service.live.events import record_acks
from service.store.transaction import Tx
from tests.conftest import AgencyKit, Server, new_agency, start_server, stop_server
from tests.service.consoles import TestConsole, console
from tests.service.factories import north_of, post_call, responder

TOO_MANY = 4429


def _hello(token: str) -> str:
    return json.dumps({"type": "hello", "token": token})


def _closed(ws: ClientConnection, timeout: float = 5) -> tuple[int | None, str]:
    """Read until the server closes the socket: its close code and reason."""
    try:
        for _ in range(1000):
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")
    raise AssertionError("the server kept the socket open")


def _still_open(desk: TestConsole) -> bool:
    desk.send({"type": "ping"})
    return desk.next_of_type("pong") == {"type": "pong"}


def _audit(agency: AgencyKit, **filters: Any) -> list[dict[str, Any]]:
    with agency.client(Role.admin) as admin:
        answer = admin.get("/v1/audit", params={**filters, "limit": 500})
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()
    return records


def test_the_21st_console_on_one_token_is_refused_and_the_first_20_stay_live(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    token = agency.token(Role.dispatcher)
    with contextlib.ExitStack() as stack:
        desks = [stack.enter_context(console(agency.server.ws_url, token)) for _ in range(20)]
        with connect(agency.server.ws_url) as ws:
            ws.send(_hello(token))
            code, reason = _closed(ws)
        assert code == TOO_MANY
        assert "token" in reason and "20" in reason

        call = post_call(dispatcher)
        for desk in desks:
            assert desk.next_event("call.created")["data"]["id"] == call["id"]

    [refusal] = _audit(agency, action="ws limit")
    assert refusal["outcome"] == "rejected"
    assert refusal["token_id"] == desks[0].welcome["principal"]["token_id"]
    assert refusal["detail"]["cap"] == "CORESPOND_WS_MAX_PER_TOKEN"


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Server]:
    """A server of its own, whose address caps are small enough to reach from one test
    (and whose counts no other test's sockets share)."""
    running = start_server(
        tmp_path,
        extra_env={
            "CORESPOND_WS_MAX_WAITING_PER_ADDRESS": "5",
            "CORESPOND_WS_MAX_PER_ADDRESS": "8",
        },
    )
    yield running
    stop_server(running)


def test_sockets_that_never_say_hello_beyond_the_waiting_cap_are_closed_at_once(
    small_server: Server,
) -> None:
    with contextlib.ExitStack() as stack:
        waiting = [stack.enter_context(connect(small_server.ws_url)) for _ in range(5)]
        extra = [stack.enter_context(connect(small_server.ws_url)) for _ in range(3)]
        for ws in extra:
            code, reason = _closed(ws, timeout=3)  # well before the 10 s hello timeout
            assert code == TOO_MANY
            assert "hello" in reason
        for ws in waiting:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.2)  # still held open, waiting for its hello

        # One of the waiting says hello: that makes room for another.
        kit = new_agency(small_server)
        waiting[0].send(_hello(kit.token(Role.dispatcher)))
        assert json.loads(waiting[0].recv(timeout=5))["type"] == "welcome"
        with console(small_server.ws_url, kit.token(Role.dispatcher)) as desk:
            assert _still_open(desk)


def test_consoles_beyond_the_cap_per_address_are_refused_until_one_leaves(
    small_server: Server,
) -> None:
    kit = new_agency(small_server)
    with contextlib.ExitStack() as stack:
        desks = [
            stack.enter_context(console(small_server.ws_url, kit.token(Role.dispatcher)))
            for _ in range(8)
        ]
        with connect(small_server.ws_url) as ws:
            code, reason = _closed(ws)
        assert code == TOO_MANY
        assert "address" in reason

        desks[0].ws.close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the goodbye, then lets another in
            with connect(small_server.ws_url) as ws:
                ws.send(_hello(kit.token(Role.dispatcher)))
                try:
                    if json.loads(ws.recv(timeout=5))["type"] == "welcome":
                        break
                except ConnectionClosed:
                    pass
            assert time.monotonic() < deadline, "no room was made when a console left"
            time.sleep(0.1)


def test_a_console_flooding_accepts_is_closed_and_audited_once_per_burst(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    token = agency.token(Role.responder, responder_id=clinician["id"])
    absent = str(uuid.uuid4())
    with connect(agency.server.ws_url) as ws:
        ws.send(_hello(token))
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
        with contextlib.suppress(ConnectionClosed):
            for _ in range(300):
                ws.send(json.dumps({"type": "accept", "assignment_id": absent}))
        code, reason = _closed(ws)
    assert code == TOO_MANY
    assert "messages" in reason

    about_it = [r for r in _audit(agency, responder_id=clinician["id"]) if r["action"] != "logon"]
    assert 1 <= len(about_it) <= 5, [(r["action"], r["detail"]) for r in about_it]
    [flood] = [r for r in about_it if r["action"] == "ws limit"]
    assert flood["detail"]["cap"] == "CORESPOND_WS_MESSAGES_PER_S"
    refused = [r for r in about_it if r["action"] == "ws accept"]
    assert any(r["target"] == f"assignment:{absent}" for r in refused)
    # The refusals left out of the trail one by one are counted in it.
    assert sum(1 + r["detail"].get("repeats", 0) for r in refused) >= 2


def test_acks_do_not_count_against_the_message_cap(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    token = agency.token(Role.responder, responder_id=clinician["id"])
    with console(agency.server.ws_url, token) as phone:
        for seq in range(300):
            phone.send({"type": "ack", "seq": seq})
        assert _still_open(phone)


def _acked_seq(server: Server, token_id: str) -> int:
    def read(tx: Tx) -> int:
        return int(
            tx.session.execute(
                select(col(ApiToken.acked_seq)).where(col(ApiToken.id) == uuid.UUID(token_id))
            ).scalar_one()
        )

    return server.uow.read_sync(read)


def test_an_absurd_ack_is_refused_and_another_responders_ack_is_still_stored(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(200))
    officer = responder(dispatcher, kind="officer", at=north_of(50_000))
    clinician_token = agency.token(Role.responder, responder_id=clinician["id"])
    officer_token = agency.token(Role.responder, responder_id=officer["id"])
    with (
        console(agency.server.ws_url, clinician_token) as phone,
        console(agency.server.ws_url, officer_token) as prankster,
    ):
        post_call(dispatcher)
        offer = phone.next_event("assignment.offered")
        phone.send({"type": "ack", "seq": offer["seq"]})
        prankster.send({"type": "ack", "seq": 2**70})
        error = prankster.next_of_type("error")
        assert error["error"] == "BadMessage" and "seq" in error["detail"]
        assert _still_open(prankster)

        token_id = phone.welcome["principal"]["token_id"]
        deadline = time.monotonic() + 10
        while _acked_seq(agency.server, token_id) != offer["seq"]:
            assert time.monotonic() < deadline, "the clinician's ack was never stored"
            time.sleep(0.2)

        # The phone drops and comes back while its first socket lingers: the offer it
        # acknowledged is not sent again.
        with console(agency.server.ws_url, clinician_token, resume_after=offer["seq"]) as again:
            assert all(f.get("seq") != offer["seq"] for f in again.drain())


def test_one_bad_ack_in_a_batch_does_not_lose_the_others(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    good = agency.token(Role.responder, responder_id=clinician["id"])
    with console(agency.server.ws_url, good) as phone:
        good_id = uuid.UUID(phone.welcome["principal"]["token_id"])
    bad_id = uuid.uuid4()  # a token that does not exist, with an ack no column holds

    agency.server.uow.write_sync(record_acks, acks={bad_id: 2**70, good_id: 41})

    assert _acked_seq(agency.server, str(good_id)) == 41


def test_a_token_offered_as_the_only_subprotocol_is_never_echoed(agency: AgencyKit) -> None:
    token = agency.token(Role.dispatcher)
    with connect(agency.server.ws_url, subprotocols=[Subprotocol(f"bearer.{token}")]) as ws:
        assert ws.response is not None
        answered = ws.response.headers.get_all("Sec-WebSocket-Protocol")
        assert not any(token in value for value in answered), answered
        assert ws.subprotocol is None
        ws.send(json.dumps({"type": "hello"}))  # the handshake's token signs it in
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"

    offered = [Subprotocol("corespond.v1"), Subprotocol(f"bearer.{token}")]
    with connect(agency.server.ws_url, subprotocols=offered) as ws:
        assert ws.subprotocol == "corespond.v1"
        ws.send(json.dumps({"type": "hello"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
