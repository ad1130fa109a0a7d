"""The console socket: offers arrive live, answers go back, each console sees its own."""

import base64
import json
import os
import socket
import time
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from models.vocabulary import Role
from service.agencies.operations import create_agency
from tests.conftest import AgencyKit, Server, start_server, stop_server
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder


def test_offer_reaches_the_clinicians_console_live_and_is_accepted_there(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(400))
    token = agency.token(Role.responder, responder_id=clinician["id"])

    with console(agency.server.ws_url, token, via_subprotocol=True) as phone:
        assert phone.welcome["principal"]["responder_id"] == clinician["id"]
        call = post_call(dispatcher, narrative="Mother says he has not slept in days.")
        offer = phone.next_event("assignment.offered")
        assert offer["seq"] > phone.welcome["seq"]
        assert offer["data"]["assignment"]["id"] == call["assignments"][0]["id"]
        assert offer["data"]["call"]["category"] == "mental_health_crisis"
        assert "narrative" not in json.dumps(offer["data"]).replace("has_narrative", "")

        phone.send({"type": "accept", "assignment_id": offer["data"]["assignment"]["id"]})
        result = phone.next_of_type("result")

    assert result["assignment"]["state"] == "accepted"
    assert dispatcher.get(f"/v1/calls/{call['id']}").json()["assignments"][0]["state"] == (
        "accepted"
    )
    me = dispatcher.get(f"/v1/responders/{clinician['id']}").json()
    assert me["status"] == "assigned"


def test_dispatcher_sees_every_event_and_a_responder_only_its_own(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    officer = responder(dispatcher, kind="officer", at=north_of(300), cit_until=NEXT_YEAR)
    clinician = responder(dispatcher, kind="clinician", at=north_of(300))
    officer_token = agency.token(Role.responder, responder_id=officer["id"])

    with (
        console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk,
        console(agency.server.ws_url, officer_token) as car,
    ):
        call = post_call(dispatcher, weapon=True)
        seen_by_desk = [desk.next_event("call.created"), *desk.drain()]
        seen_by_car = car.drain()

    desk_events = [f["event"] for f in seen_by_desk]
    assert desk_events.count("assignment.offered") == 2
    assert "call.updated" in desk_events
    seqs = [f["seq"] for f in seen_by_desk]
    assert seqs == sorted(seqs)
    assert [f["event"] for f in seen_by_car] == ["assignment.offered"]
    offered_to = seen_by_car[0]["data"]["assignment"]["responder_id"]
    assert offered_to == officer["id"] != clinician["id"]
    assert seen_by_car[0]["data"]["call"]["id"] == call["id"]


def test_declining_on_the_socket_offers_the_next_best_clinician(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    nearest = responder(dispatcher, kind="clinician", at=north_of(200))
    runner_up = responder(dispatcher, kind="clinician", at=north_of(2000))

    with console(
        agency.server.ws_url, agency.token(Role.responder, responder_id=nearest["id"])
    ) as a:
        call = post_call(dispatcher)
        offer = a.next_event("assignment.offered")
        a.send({"type": "decline", "assignment_id": offer["data"]["assignment"]["id"]})
        assert a.next_of_type("result")["assignment"]["state"] == "declined"

    states = {
        x["responder_id"]: x["state"]
        for x in dispatcher.get(f"/v1/calls/{call['id']}").json()["assignments"]
    }
    assert states == {nearest["id"]: "declined", runner_up["id"]: "offered"}
    assert dispatcher.get(f"/v1/responders/{nearest['id']}").json()["status"] == "available"


def test_a_console_that_reconnects_gets_exactly_what_it_missed(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(200))
    token = agency.token(Role.dispatcher)
    with console(agency.server.ws_url, token) as desk:
        last_seen = desk.welcome["seq"]
    call = post_call(dispatcher)
    dispatcher.post(f"/v1/assignments/{call['assignments'][0]['id']}/accept")

    with console(agency.server.ws_url, token, resume_after=last_seen) as desk:
        missed = desk.drain()

    names = [f["event"] for f in missed]
    assert names == ["call.created", "assignment.offered", "call.updated", "assignment.accepted"]
    assert missed[1]["data"]["assignment"]["responder_id"] == clinician["id"]
    assert [f["seq"] for f in missed] == sorted({f["seq"] for f in missed})


def test_bad_messages_get_an_error_and_the_socket_stays_open(agency: AgencyKit) -> None:
    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        desk.ws.send("{not json")
        assert desk.recv()["error"] == "BadMessage"
        desk.send({"type": "accept"})
        error = desk.recv()
        assert error["error"] == "BadMessage"
        assert "assignment_id" in error["detail"]
        desk.send({"type": "teleport"})
        assert desk.recv()["error"] == "BadMessage"
        desk.send({"type": "accept", "assignment_id": "00000000-0000-4000-8000-000000000000"})
        assert desk.recv()["error"] == "NotFound"
        desk.send({"type": "ping"})
        assert desk.recv() == {"type": "pong"}


def _close_code(ws_url: str, first: str, origin: str | None = None) -> int | None:
    """Send one message and return the code the server closes with."""
    with connect(ws_url, origin=Origin(origin) if origin else None) as ws:
        try:
            ws.send(first)
            for _ in range(5):
                ws.recv(timeout=5)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the server kept the socket open")


def test_unknown_token_is_closed_with_4401(agency: AgencyKit) -> None:
    hello = json.dumps({"type": "hello", "token": "cr_not-a-real-token"})
    assert _close_code(agency.server.ws_url, hello) == 4401


def test_first_message_that_is_not_a_hello_is_closed_with_4400(agency: AgencyKit) -> None:
    assert _close_code(agency.server.ws_url, '{"type": "ack", "seq": 1}') == 4400
    assert _close_code(agency.server.ws_url, "hello?") == 4400


def test_a_page_from_another_origin_is_refused_with_4403(agency: AgencyKit) -> None:
    hello = json.dumps({"type": "hello", "token": agency.token(Role.dispatcher)})
    code = _close_code(agency.server.ws_url, hello, origin="https://evil.example")
    assert code == 4403


def _raw_console(server: Server, token: str) -> socket.socket:
    """A console that completes the handshake and its hello, then never reads again
    (and so never answers a ping): a phone that drove into a tunnel."""
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection((host, port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in sock.recv(4096)
    payload = json.dumps({"type": "hello", "token": token}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


def test_a_console_that_stops_answering_pings_is_dropped(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        extra_env={"CORESPOND_WS_PING_INTERVAL_S": "0.3", "CORESPOND_WS_PING_TIMEOUT_S": "0.3"},
    )
    try:
        created = server.uow.write_sync(create_agency, slug="tunnel")
        kit = AgencyKit(server=server, slug="tunnel", id=created.id)
        sock = _raw_console(server, kit.token(Role.dispatcher))
        time.sleep(0.2)
        assert "corespond_consoles_connected 1.0" in httpx.get(server.metrics_url).text
        time.sleep(3)  # several ping intervals, none answered
        sock.settimeout(5)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        sock.close()
        assert b"welcome" in received
        assert "corespond_consoles_connected 0.0" in httpx.get(server.metrics_url).text
    finally:
        stop_server(server)
