"""Signed webhooks, against real receiver processes (tests/service/webhook_receiver.py):
every event reaches a receiver that fails, goes down and comes back, in order, once,
signed; a tampered body is caught by the receiver's check; an endpoint failing for
too long is disabled and the dispatchers are told; a replay from a seq; the delivery
process and replicas: test_webhook_process.py. Who may manage them, and where they may
reach: test_webhook_rules.py."""

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.vocabulary import Role
from service.live.events import purge_old_events
from tests.conftest import (
    Server,
    free_port,
    new_agency,
    start_server,
    stop_server,
)
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, post_call, responder
from tests.service.webhooks_kit import (
    ALLOW_PRIVATE,
    MakeReceiver,
    busy_morning,
    deliveries,
    logged_seqs,
    receivers,
    register,
    wait_for,
)

__all__ = ["receivers"]  # the fixture, imported for pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Hooks:
    """A server that may reach loopback receivers, and can be restarted on its port; it
    trusts a certificate authority of the tests' own, if `openssl` could make one."""

    server: Server
    tmp: Path
    env: dict[str, str]
    leaf: tuple[Path, Path] | None  # a certificate for `localhost` and its key

    def restart(self) -> None:
        port = int(self.server.env["CORESPOND_PORT"])
        stop_server(self.server)
        self.server = start_server(self.tmp, port=port, extra_env=self.env)


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hooks]:
    tmp = tmp_path_factory.mktemp("webhooks")
    authority = certificate_authority(tmp) if shutil.which("openssl") else None
    env = {**ALLOW_PRIVATE, **({"SSL_CERT_FILE": str(authority[0])} if authority else {})}
    running = Hooks(
        server=start_server(tmp, extra_env=env), tmp=tmp, env=env, leaf=authority and authority[1]
    )
    yield running
    stop_server(running.server)


def certificate_authority(tmp: Path) -> tuple[Path, tuple[Path, Path]]:
    """A CA's certificate, and a certificate it signed for the name `localhost` (only:
    not for 127.0.0.1) with its key."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req",
        "-x509",
        *curve,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=CoRespond tests",
    )
    openssl("req", *curve, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    (tmp / "leaf.ext").write_text("subjectAltName=DNS:localhost\n")
    openssl(
        *("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext"),
    )
    return tmp / "ca.pem", (tmp / "leaf.pem", tmp / "leaf.key")


@pytest.fixture(scope="module")
def quick_give_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose endpoints are disabled after failing for 1.8 s, not 24 h."""
    running = start_server(
        tmp_path_factory.mktemp("give-up"),
        extra_env={**ALLOW_PRIVATE, "CORESPOND_WEBHOOK_GIVE_UP_H": "0.0005"},
    )
    yield running
    stop_server(running)


# ---- delivery -------------------------------------------------------------------------


def test_every_event_reaches_a_flaky_receiver_in_order_once_and_signed(
    hooks: Hooks, receivers: MakeReceiver
) -> None:
    """The receiver answers 500 twice, then goes down; it comes back as the service
    restarts, and gets everything, as a dispatcher's console got it."""
    kit = new_agency(hooks.server)
    admin, desk = kit.client(Role.admin), kit.client(Role.dispatcher)
    port = free_port()
    created = register(admin, f"http://127.0.0.1:{port}/hook")
    receiver = receivers(created["secret"], port)
    receiver.start(fail=2)

    busy_morning(desk)
    wait_for("two 500s", lambda: [e["status"] for e in receiver.entries()] == [500, 500])
    receiver.stop()
    wait_for(
        "a try while the receiver is down",
        lambda: "ConnectionRefusedError" in str(deliveries(admin, created["id"])[0]["error"]),
    )
    responder(desk, kind="officer", cit_until=NEXT_YEAR)
    receiver.start()
    hooks.restart()  # the failure, its next try and the endpoint's place are in the database

    expected = logged_seqs(kit, created["delivered_through"])
    got = wait_for(
        "every event",
        lambda: (a := receiver.accepted()) and a[-1]["seq"] >= expected[-1] and a,
    )
    assert [g["seq"] for g in got] == expected
    assert all(e["signed"] for e in receiver.entries())
    assert {e["idempotency_key"] for e in receiver.entries()} == {str(s) for s in expected}
    with console(
        hooks.server.ws_url, kit.token(Role.dispatcher), resume_after=expected[0] - 1
    ) as c:
        assert got == c.drain()
    # The log is written a round at a time, within a second of its last delivery.
    log = wait_for(
        "the delivery log to reach the last event",
        lambda: (d := deliveries(admin, created["id"]))[0]["through_seq"] == expected[-1] and d,
    )
    first = log[-1]
    assert first["status"] == "delivered"
    assert first["attempts"] >= 4  # two 500s, one or more refusals, then taken
    assert (first["seq"], first["through_seq"], first["events"]) == (expected[0], expected[0], 1)
    covered: list[int] = []  # the rest: a run a round, every event in one of them
    for entry in reversed(log):
        assert entry["status"] == "delivered" and entry["seq"] == expected[len(covered)]
        covered += expected[len(covered) : len(covered) + entry["events"]]
        assert entry["through_seq"] == covered[-1]
    assert covered == expected
    listed = admin.get("/v1/webhooks").json()
    assert [(w["state"], w["delivered_through"]) for w in listed] == [("active", expected[-1])]


def test_a_server_restarted_just_after_a_burst_sends_none_of_it_again(
    hooks: Hooks, receivers: MakeReceiver
) -> None:
    """A deploy restarts the service within a second of a burst of deliveries: what
    was delivered is written before the claim is given back, so the receiver gets
    each event once, and the next events after the restart."""
    kit = new_agency(hooks.server)
    admin, desk = kit.client(Role.admin), kit.client(Role.dispatcher)
    port = free_port()
    created = register(admin, f"http://127.0.0.1:{port}/hook")
    receiver = receivers(created["secret"], port)
    receiver.start()

    busy_morning(desk)
    burst = logged_seqs(kit, created["delivered_through"])
    wait_for("the burst", lambda: (a := receiver.accepted()) and a[-1]["seq"] >= burst[-1])
    hooks.restart()  # at once: the last round's deliveries are not written yet
    responder(desk, kind="officer", cit_until=NEXT_YEAR)

    expected = logged_seqs(kit, created["delivered_through"])
    wait_for("the events after", lambda: receiver.accepted()[-1]["seq"] >= expected[-1])
    assert [e["seq"] for e in receiver.accepted()] == expected
    assert len(receiver.entries()) == len(expected)  # none sent twice


def test_a_receiver_that_checks_the_signature_rejects_a_tampered_body(
    hooks: Hooks, receivers: MakeReceiver
) -> None:
    """And the check in docs/webhooks.md, run as printed, agrees with the receiver."""
    kit = new_agency(hooks.server)
    admin, desk = kit.client(Role.admin), kit.client(Role.dispatcher)
    port = free_port()
    created = register(admin, f"http://127.0.0.1:{port}/hook", ["responder.created"])
    receiver = receivers(created["secret"], port)
    receiver.start()
    responder(desk, kind="clinician")
    sent = wait_for("a delivery", receiver.entries)[0]
    body = sent["body"].encode()
    tampered = body.replace(b'"kind":"clinician"', b'"kind":"officer"')
    assert tampered != body

    def post(content: bytes) -> int:
        headers = {"CoRespond-Signature": sent["signature"], "Content-Type": "application/json"}
        return httpx.post(receiver.url, content=content, headers=headers).status_code

    assert (post(tampered), post(body)) == (400, 200)
    assert sent["host"] == f"127.0.0.1:{port}"
    assert sent["event_header"] == "responder.created"

    checks = documented_check()
    now = int(sent["signature"].split(",")[0].removeprefix("t="))
    assert checks(created["secret"], sent["signature"], body, now=now)
    assert not checks(created["secret"], sent["signature"], tampered, now=now)
    assert not checks("whsec_another", sent["signature"], body, now=now)
    assert not checks(created["secret"], sent["signature"], body, now=now + 301)


def documented_check() -> Callable[..., bool]:
    """The receiver's check as docs/webhooks.md prints it."""
    text = (ROOT / "docs" / "webhooks.md").read_text()
    code = re.search(r"```python\n(.*?def verify.*?)```", text, re.S)
    assert code is not None, "docs/webhooks.md shows no `def verify` in Python"
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)  # noqa: S102 (the project's own documentation)
    verify: Callable[..., bool] = scope["verify"]
    return verify


def test_https_deliveries_go_to_the_address_resolved_and_check_the_certificate_for_the_name(
    hooks: Hooks, receivers: MakeReceiver
) -> None:
    """`https://localhost:…` is connected to the address `localhost` resolved to, with
    `localhost` as the TLS server name: the certificate for that name is taken. The same
    receiver reached as `https://127.0.0.1:…` is refused, as its certificate does not
    name that address."""
    if hooks.leaf is None:
        pytest.skip("openssl is not installed: no certificate for the receiver")
    kit = new_agency(hooks.server)
    admin, desk = kit.client(Role.admin), kit.client(Role.dispatcher)
    port = free_port()
    by_name = register(admin, f"https://localhost:{port}/hook", ["responder.created"])
    by_address = register(admin, f"https://127.0.0.1:{port}/hook", ["responder.created"])
    receiver = receivers(by_name["secret"], port)
    receiver.start(tls=hooks.leaf)
    made = responder(desk, kind="clinician")

    got = wait_for("the delivery by name", receiver.accepted)
    assert got[0]["data"]["id"] == made["id"]
    assert receiver.entries()[0]["host"] == f"localhost:{port}"
    refused = wait_for("the refusal", lambda: deliveries(admin, by_address["id"]))
    assert "CERTIFICATE_VERIFY_FAILED" in refused[0]["error"]
    assert len(receiver.entries()) == 1


def test_an_endpoint_gets_only_the_events_it_asked_for_and_a_replay_from_a_seq(
    hooks: Hooks, receivers: MakeReceiver
) -> None:
    kit = new_agency(hooks.server)
    admin, desk = kit.client(Role.admin), kit.client(Role.dispatcher)
    port = free_port()
    created = register(admin, f"http://127.0.0.1:{port}/hook", ["call.created"])
    receiver = receivers(created["secret"], port)
    receiver.start()
    busy_morning(desk)
    post_call(desk)
    calls = wait_for("two calls", lambda: len(a := receiver.accepted()) == 2 and a)
    assert [c["event"] for c in calls] == ["call.created", "call.created"]

    replay = admin.post(
        f"/v1/webhooks/{created['id']}/redeliver", json={"from_seq": calls[0]["seq"]}
    )
    assert replay.status_code == 200, replay.text
    again = wait_for("the replay", lambda: len(a := receiver.accepted()) == 4 and a)
    assert [c["seq"] for c in again] == [c["seq"] for c in calls] * 2

    head = again[-1]["seq"]
    too_late = admin.post(f"/v1/webhooks/{created['id']}/redeliver", json={"from_seq": 10**12})
    assert too_late.status_code == 422
    assert "after the event log's last seq" in too_late.json()["detail"]
    while kit.server.uow.write_sync(purge_old_events, keep=timedelta(0), limit=1000) == 1000:
        pass
    gone = admin.post(f"/v1/webhooks/{created['id']}/redeliver", json={"from_seq": head})
    assert gone.status_code == 422
    assert "past the event log's retention" in gone.json()["detail"]


def test_an_endpoint_failing_past_the_give_up_time_is_disabled_and_dispatchers_are_told(
    quick_give_up: Server, receivers: MakeReceiver
) -> None:
    kit = new_agency(quick_give_up)
    admin, desk = kit.client(Role.admin), kit.client(Role.dispatcher)
    port = free_port()  # nothing listens there yet
    created = register(admin, f"http://127.0.0.1:{port}/hook")
    with console(quick_give_up.ws_url, kit.token(Role.dispatcher)) as board:
        made = responder(desk, kind="clinician", at=None, status="off_duty")
        told = board.next_event("webhook.disabled", timeout=90)

    assert told["data"]["id"] == created["id"]
    assert "disabled" in told["data"]["reason"]
    assert "127.0.0.1" in told["data"]["reason"]
    listed = admin.get("/v1/webhooks").json()[0]
    assert listed["state"] == "disabled"
    assert "ConnectionRefusedError" in listed["last_error"]
    log = deliveries(admin, created["id"])
    assert [(d["seq"], d["status"]) for d in log] == [(told["data"]["seq"], "failed")]
    assert log[0]["attempts"] >= 2

    receiver = receivers(created["secret"], port)
    receiver.start()
    resumed = admin.post(
        f"/v1/webhooks/{created['id']}/redeliver", json={"from_seq": told["data"]["seq"]}
    )
    assert resumed.json()["state"] == "active"
    got = wait_for("the redelivery", receiver.accepted)
    assert (got[0]["event"], got[0]["data"]["id"]) == ("responder.created", made["id"])
