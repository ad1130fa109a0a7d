"""NENA-STA-024 over `/v1/sta024`: a CAD subscribes with a cad token and is notified of
its incidents as EIDOs; every message the server sends validates against NENA's pinned
schema (read in place from ../shared/standards/nena/), and every EIDO against NENA's
EIDO schema.

The module's server gives a CAD one second to answer a notification (its ping timeout),
so an unanswered notification is retried and dropped within a few seconds.
"""

import functools
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft4Validator
from sqlalchemy import select
from sqlmodel import col
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from models.agency import ApiToken
from models.vocabulary import Role
from service.agencies.tokens import revoke_token
from service.sta024.worker import NICENESS
from service.store.transaction import Tx
from service.trust.auth import hash_token
from tests.conftest import (
    AgencyKit,
    Server,
    classes_of_threads,
    spawned_children,
    start_server,
    stop_server,
)
from tests.service.eido_schema import NENA, need_nena, schema_errors
from tests.service.factories import audit_records, north_of, post_call, responder

STA024 = NENA / "sta-024-websocket.yaml"
# How long a test waits for the server's next message. The first notification waits
# for the builder's worker to start, at a low priority (service/sta024/worker.py):
# seconds on a busy machine.
WAIT_S = 60.0
# The schema's object for each message, by the member that names it.
OBJECT_OF = {
    "subscribe": "subscribeObject",
    "unsubscribe": "unsubscribeObject",
    "eventResponse": "eventResponseObject",
    "terminateResponse": "terminateResponseObject",
    "subscribeResponse": "subscribeResponseObject",
    "unsubscribeResponse": "unsubscribeResponseObject",
    "response": "responseObject",
    "event": "eventObject",
    "terminate": "terminateObject",
}


@functools.cache
def _components() -> dict[str, Any]:
    need_nena()
    components: dict[str, Any] = yaml.safe_load(STA024.read_text())["components"]
    return components


def sta024_errors(message: dict[str, Any]) -> list[str]:
    """How `message` fails its object in NENA's STA-024 schema. The schema's objects
    require none of their members (so `{}` is any of them, and its `oneOf`s never
    match exactly one): here a message must also be its one named member."""
    assert len(message) == 1, message
    (name,) = message
    schema = {
        "allOf": [
            {"$ref": f"#/components/schemas/{OBJECT_OF[name]}"},
            {"required": [name], "maxProperties": 1},
        ],
        "components": _components(),
    }
    return [f"{e.json_path}: {e.message}" for e in Draft4Validator(schema).iter_errors(message)]


class Cad:
    """A CAD system's end of the socket: a real websockets client."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.answered: set[str] = set()  # transactions acknowledged (a retry repeats one)

    def send(self, name: str, body: dict[str, Any], *, check: bool = True) -> None:
        message = {name: body}
        if check:
            assert sta024_errors(message) == []
        self.ws.send(json.dumps(message))

    def receive(self, name: str, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next message (`name` it must be), checked against the schemas; an event
        repeating one already answered is skipped, as a CAD would."""
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            assert sta024_errors(message) == [], message
            event = message.get("event")
            if event is not None:
                if event["transactionId"] in self.answered:
                    continue
                for eido in event["notification"]:
                    assert schema_errors(eido) == []
            assert name in message, message
            body: dict[str, Any] = message[name]
            return body

    def until(self, name: str) -> dict[str, Any]:
        """The next `name` message; notifications before it are answered."""
        while True:
            message = json.loads(self.ws.recv(timeout=WAIT_S))
            assert sta024_errors(message) == [], message
            if name in message:
                body: dict[str, Any] = message[name]
                return body
            self.answer(message["event"])

    def subscribe(self, **members: Any) -> dict[str, Any]:
        """Subscribe, and the answer (notifications of other subscriptions are answered)."""
        self.send("subscribe", {"requestId": uuid.uuid4().hex, "requestType": "EIDO", **members})
        return self.until("subscribeResponse")

    def answer(self, event: dict[str, Any], code: int = 200) -> None:
        self.answered.add(event["transactionId"])
        body = {"transactionId": event["transactionId"], "statusCode": code, "statusText": "OK"}
        self.send("eventResponse", body)

    def notified(self) -> dict[str, Any]:
        """The next notification, answered."""
        event = self.receive("event")
        self.answer(event)
        return event


def incidents(event: dict[str, Any]) -> list[str]:
    """The calls a notification's EIDOs are about (CoRespond's ids)."""
    return [e["incidentComponent"]["internalIncidentId"] for e in event["notification"]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("sta024"),
        extra_env={"CORESPOND_WS_PING_TIMEOUT_S": "1", "CORESPOND_WS_MESSAGES_PER_S": "1000"},
    )
    yield running
    stop_server(running)


def sta024_url(server: Server) -> str:
    return server.ws_url.replace("/v1/ws", "/v1/sta024")


@contextmanager
def cad(agency: AgencyKit, token: str | None = None) -> Iterator[Cad]:
    token = token or agency.token(Role.cad)
    headers = {"Authorization": f"Bearer {token}"}
    with connect(sta024_url(agency.server), additional_headers=headers) as ws:
        yield Cad(ws)


def closed_with(
    agency: AgencyKit,
    token: str | None,
    first: str | None = None,
    headers: dict[str, str] | None = None,
) -> int | None:
    """The code the server closes a socket with (after `first`, if given)."""
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    with connect(sta024_url(agency.server), additional_headers=headers) as ws:
        try:
            if first is not None:
                ws.send(first)
            for _ in range(5):
                ws.recv(timeout=10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the server kept the socket open")


def test_a_cad_subscribed_to_new_incidents_gets_each_call_as_an_eido(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(300))
    with cad(agency) as system:
        answer = system.subscribe(requestSubType="new", expires=120, maxRate=0)
        assert (answer["statusCode"], answer["statusText"]) == (200, "OK")
        assert answer["expires"] == 120
        first = system.notified()  # every open incident: none yet
        assert first["subscriptionId"] == answer["subscriptionId"]
        assert first["notification"] == []

        call = post_call(dispatcher, external_id="CAD-2024-0001")
        news = system.notified()

    assert news["subscriptionId"] == answer["subscriptionId"]
    assert incidents(news) == [call["id"]]
    (eido,) = news["notification"]
    assert eido["incidentComponent"]["$id"] == "CAD-2024-0001"
    assert news["seq"] > first["seq"]


def test_one_incident_is_followed_through_its_changes_and_its_reading_is_audited(
    agency: AgencyKit, dispatcher: httpx.Client, supervisor: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(300))
    followed = post_call(dispatcher, narrative="Neighbour reports shouting; no weapon seen.")
    with cad(agency) as system:
        urn = f"urn:emergency:uid:incidentid:{uuid.UUID(followed['id']).hex}:corespond"
        answer = system.subscribe(requestSubType="single", incidentId=urn)
        assert answer["statusCode"] == 200
        now = system.notified()
        post_call(dispatcher, at=north_of(5000))  # another incident: not this one's
        offer = followed["assignments"][0]
        assert offer["responder_id"] == clinician["id"]
        accepted = dispatcher.post(f"/v1/assignments/{offer['id']}/accept")
        assert accepted.status_code == 200, accepted.text
        changed = system.notified()

    assert incidents(now) == incidents(changed) == [followed["id"]]
    (unit,) = changed["notification"][0]["emergencyResourceComponent"]
    assert unit["primaryUnitStatusRegistryText"] == "Dispatched"
    records = audit_records(supervisor, action="sta024 notify")
    shown = [r["detail"]["calls"] for r in records]
    assert {followed["id"]: ["narrative"]} in shown


def test_a_dropped_cad_resumes_after_the_last_notification_it_took(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(300))
    seen = post_call(dispatcher)
    token = agency.token(Role.cad)
    with cad(agency, token) as system:
        system.subscribe(requestSubType="new")
        taken = system.notified()
    assert incidents(taken) == [seen["id"]]

    missed = post_call(dispatcher, at=north_of(900))  # while the CAD was away
    with cad(agency, token) as system:
        answer = system.subscribe(requestSubType="new", resumeAfter=taken["seq"])
        caught_up = system.notified()

    assert answer["statusText"] == f"OK; resumed after {taken['seq']}"
    assert incidents(caught_up) == [missed["id"]]


def test_incidents_that_change_while_a_notification_is_unanswered_follow_once_each(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    with cad(agency) as system:
        system.subscribe(requestSubType="new")
        first = system.receive("event")
        calls = [post_call(dispatcher, at=north_of(100 * i)) for i in range(3)]
        system.answer(first)
        sent: list[str] = []
        while len(set(sent)) < len(calls):
            sent += incidents(system.notified())

    assert sorted(sent) == sorted(c["id"] for c in calls)  # each once: none lost, none twice


def test_a_cad_that_never_answers_is_sent_the_notification_three_times_then_dropped(
    agency: AgencyKit,
) -> None:
    with cad(agency) as system:
        answer = system.subscribe(requestSubType="new")
        tries = [system.receive("event") for _ in range(3)]
        terminate = system.receive("terminate")
        with pytest.raises(ConnectionClosed) as closed:
            system.ws.recv(timeout=10)

    assert len({t["transactionId"] for t in tries}) == 1
    assert terminate["subscriptionId"] == answer["subscriptionId"]
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4408


def test_unsubscribe_ends_a_subscription_and_the_socket_takes_another(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    with cad(agency) as system:
        old = system.subscribe(requestSubType="new")["subscriptionId"]
        system.notified()
        system.send("unsubscribe", {"requestId": "u1", "subscriptionId": old})
        ended = system.receive("unsubscribeResponse")
        system.send("unsubscribe", {"requestId": "u2", "subscriptionId": old})
        again = system.receive("unsubscribeResponse")
        call = post_call(dispatcher)
        new = system.subscribe(requestSubType="single", incidentId=call["id"])
        only = system.notified()

    assert (ended["requestId"], ended["statusCode"]) == ("u1", 200)
    assert (again["statusCode"], again["statusText"]) == (481, "Subscription does not exist")
    assert only["subscriptionId"] == new["subscriptionId"]
    assert incidents(only) == [call["id"]]


def test_expiry_terminates_the_subscription_and_closes_the_socket_with_the_last(
    agency: AgencyKit,
) -> None:
    with cad(agency) as system:
        answer = system.subscribe(requestSubType="new", expires=1)
        system.notified()
        terminate = system.receive("terminate")
        system.send(
            "terminateResponse",
            {**terminate, "statusCode": 200, "statusText": "OK"},
        )
        with pytest.raises(ConnectionClosed) as closed:
            system.ws.recv(timeout=10)

    assert terminate["subscriptionId"] == answer["subscriptionId"]
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1000


def test_renewal_and_a_cads_terminate(agency: AgencyKit, dispatcher: httpx.Client) -> None:
    call = post_call(dispatcher)
    with cad(agency) as system:
        sid = system.subscribe(incidentId=call["id"], expires=5, minRate=1)["subscriptionId"]
        system.notified()
        renewed = system.subscribe(subscriptionId=sid, expires=600)
        unchanged = system.notified()  # minRate: the incident again, though nothing changed
        system.send("terminate", {"requestId": "t1", "subscriptionId": sid})
        ended = system.until("terminateResponse")

    assert (renewed["statusCode"], renewed["expires"], renewed["minRate"]) == (200, 600, 1)
    assert incidents(unchanged) == [call["id"]]
    assert (ended["requestId"], ended["subscriptionId"], ended["statusCode"]) == ("t1", sid, 200)


BAD_SUBSCRIBES: list[tuple[dict[str, Any], int, str]] = [
    ({"requestType": None}, 400, "requestType is required"),
    ({"requestSubType": "single"}, 400, "needs incidentId"),
    ({"qualFilter": "priority < 3"}, 400, "qualFilter is not offered"),
    ({"minRate": 5, "maxRate": 10}, 400, "minRate (5 s"),
    ({"minRate": "5"}, 400, "minRate"),
    ({"expires": 0}, 400, "expires must be at least 1"),
    ({"requestAccepts": "application/xml"}, 406, "EIDO 1.0"),
    ({"incidentId": "CAD-NOT-HERE"}, 404, "no incident 'CAD-NOT-HERE'"),
    ({"requestSubType": "resource", "unitId": "unit-0"}, 404, "no unit 'unit-0'"),
    ({"subscriptionId": "not-one-of-yours"}, 481, "Subscription does not exist"),
]


def test_a_bad_subscribe_gets_the_standards_status_code_saying_what_is_wrong(
    agency: AgencyKit,
) -> None:
    with cad(agency) as system:
        for members, code, says in BAD_SUBSCRIBES:
            body = {"requestId": f"r{code}", "requestType": "EIDO", **members}
            system.send("subscribe", {k: v for k, v in body.items() if v is not None}, check=False)
            answer = system.receive("subscribeResponse")
            assert (answer["requestId"], answer["statusCode"]) == (f"r{code}", code), members
            assert says in answer["statusText"], (members, answer)
            assert "subscriptionId" not in answer or code == 481
        system.send("requestForService", {"requestId": "p1", "eido": {}}, check=False)
        unimplemented = system.receive("response")

    assert unimplemented == {"requestId": "p1", "statusCode": 501, "statusText": "Not implemented"}


def test_too_many_subscriptions_on_one_socket_get_413(agency: AgencyKit) -> None:
    with cad(agency) as system:
        for _ in range(16):
            assert system.subscribe(requestSubType="new")["statusCode"] == 200
        over = system.subscribe(requestSubType="new")
    assert over["statusCode"] == 413


def test_a_units_subscription_follows_the_incidents_it_is_sent_to(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    unit = responder(dispatcher, kind="clinician", at=north_of(300))
    with cad(agency) as system:
        answer = system.subscribe(requestSubType="resource", unitId=unit["id"])
        assert answer["statusCode"] == 200
        assert system.notified()["notification"] == []  # on no incident yet
        call = post_call(dispatcher)
        offered = system.notified()
    assert incidents(offered) == [call["id"]]


def test_a_revoked_token_s_socket_is_closed_with_4401(agency: AgencyKit) -> None:
    token = agency.token(Role.cad)

    def revoke(tx: Tx) -> None:
        found = select(col(ApiToken.id)).where(col(ApiToken.token_hash) == hash_token(token))
        revoke_token(tx, token_id=tx.session.execute(found).scalar_one())

    with cad(agency, token) as system:
        system.subscribe(requestSubType="new")
        system.notified()
        agency.server.uow.write_sync(revoke)
        with pytest.raises(ConnectionClosed) as closed:
            system.ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


def test_only_a_cad_token_may_subscribe(agency: AgencyKit) -> None:
    assert closed_with(agency, agency.token(Role.dispatcher)) == 4403
    assert closed_with(agency, "cr_not-a-real-token") == 4401
    assert closed_with(agency, None) == 4401
    page = {"Origin": "https://evil.example"}
    assert closed_with(agency, agency.token(Role.cad), headers=page) == 4403


def test_a_frame_that_is_no_message_closes_the_socket_with_4400(agency: AgencyKit) -> None:
    token = agency.token(Role.cad)
    assert closed_with(agency, token, "{not json") == 4400
    assert closed_with(agency, token, '{"subscribe": {}, "unsubscribe": {}}') == 4400


def test_the_pinned_schema_is_read_in_place() -> None:
    assert sta024_errors({"event": {"subscriptionId": "s"}}) != []  # transactionId missing
    assert Path(STA024).is_file()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_the_eidos_are_built_by_a_worker_that_yields_the_cores_to_the_server(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """The process that builds a subscription's EIDOs runs behind the server, every
    thread of it in the idle class, so that on a busy machine a dispatcher's offer goes
    first."""
    with cad(agency) as system:
        system.subscribe(requestSubType="new", expires=60)
        system.notified()
        call = post_call(dispatcher)
        assert incidents(system.notified()) == [call["id"]]  # the worker built it
        server_pid = agency.server.process.pid
        below = os.getpriority(os.PRIO_PROCESS, server_pid) + NICENESS
        spawned = spawned_children(server_pid)
        [worker] = [c for c in spawned if os.getpriority(os.PRIO_PROCESS, c) == below]
        assert set(classes_of_threads(worker).values()) == {os.SCHED_IDLE}
        assert os.SCHED_IDLE not in classes_of_threads(server_pid).values()
