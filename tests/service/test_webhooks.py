"""Signed webhooks, against real receiver processes (tests/service/webhook_receiver.py):
every event reaches a receiver that fails, goes down and comes back, in order, once,
signed; a tampered body is caught by the receiver's check; an endpoint failing for
too long is disabled and the dispatchers are told; a replay from a seq; the delivery
process runs only while endpoints exist and never outlives its server; and with two
replicas, each delivery is sent once. Who may manage them, and where they may reach:
test_webhook_rules.py."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from models.event import Event
from models.vocabulary import Role
from service.live.events import purge_old_events
from service.store.transaction import Tx
from tests.conftest import (
    AgencyKit,
    Server,
    free_port,
    new_agency,
    on_postgres,
    redis_missing,
    start_server,
    stop_server,
)
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, post_call, responder

ROOT = Path(__file__).resolve().parents[2]
ALLOW_PRIVATE = {"CORESPOND_WEBHOOK_ALLOW_PRIVATE": "true"}


def wait_for(what: str, found: Callable[[], Any], timeout_s: float = 90) -> Any:
    """Poll until `found()` is truthy (the timeout only stops a hang: the first delivery
    waits for the delivery process to start, which on a loaded machine took 20 s)."""
    deadline = time.monotonic() + timeout_s
    while not (value := found()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


@dataclass
class ReceiverProcess:
    """`tests/service/webhook_receiver.py` on a port of its own; stopped and started again
    on the same port, it keeps its record."""

    port: int
    secret: str
    record: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self, *, fail: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        served = ("--cert", str(tls[0]), "--key", str(tls[1])) if tls else ()
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.service.webhook_receiver"),
                *("--port", str(self.port), "--secret", self.secret),
                *("--record", str(self.record), "--fail", str(fail), *served),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"listening"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def entries(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def accepted(self) -> list[dict[str, Any]]:
        """The deliveries it answered 2xx, parsed, in the order they came."""
        return [json.loads(e["body"]) for e in self.entries() if e["status"] == 200]


MakeReceiver = Callable[[str, int], ReceiverProcess]
"""A receiver process with this secret on this port (not started)."""


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[MakeReceiver]:
    made: list[ReceiverProcess] = []

    def make(secret: str, port: int) -> ReceiverProcess:
        receiver = ReceiverProcess(
            port=port, secret=secret, record=tmp_path / f"r{len(made)}.jsonl"
        )
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


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


def register(admin: httpx.Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    answer = admin.post("/v1/webhooks", json={"url": url, "events": events or ["*"]})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def logged_seqs(kit: AgencyKit, after: int) -> list[int]:
    def read(tx: Tx) -> list[int]:
        query = select(col(Event.seq)).where(col(Event.agency_id) == kit.id, col(Event.seq) > after)
        return list(tx.session.execute(query.order_by(col(Event.seq))).scalars())

    return kit.server.uow.read_sync(read)


def deliveries(admin: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    answer = admin.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def busy_morning(desk: httpx.Client) -> None:
    """Responders registered, placed and made available, and a call offered."""
    responder(desk, kind="clinician")
    post_call(desk)


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
    first = deliveries(admin, created["id"])[-1]
    assert first["status"] == "delivered"
    assert first["attempts"] >= 4  # two 500s, one or more refusals, then taken
    assert first["seq"] == expected[0]
    listed = admin.get("/v1/webhooks").json()
    assert [(w["state"], w["delivered_through"]) for w in listed] == [("active", expected[-1])]


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


# ---- the delivery process ---------------------------------------------------------------


def delivery_processes(server: Server) -> list[int]:
    """The server's delivery processes (spawned by `multiprocessing`; the other child a
    spawning server has, its resource tracker, is not one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
            if ppid == server.process.pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (not ended, nor ended and waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_the_delivery_process_runs_while_an_endpoint_exists_and_ends_with_its_server(
    tmp_path: Path, receivers: MakeReceiver, ending: signal.Signals
) -> None:
    """No endpoint, no delivery process; one registered starts it, and it delivers. One
    that dies is replaced. However the server ends, stopped or killed, the delivery
    process ends with it."""
    running = start_server(tmp_path, extra_env=ALLOW_PRIVATE)
    try:
        kit = new_agency(running)
        admin, desk = kit.client(Role.admin), kit.client(Role.dispatcher)
        busy_morning(desk)
        assert delivery_processes(running) == []

        port = free_port()
        created = register(admin, f"http://127.0.0.1:{port}/hook", ["responder.created"])
        receiver = receivers(created["secret"], port)
        receiver.start()
        [pid] = wait_for("the delivery process", lambda: delivery_processes(running))
        made = responder(desk, kind="clinician")
        got = wait_for("the delivery", receiver.accepted)
        assert got[0]["data"]["id"] == made["id"]
        assert delivery_processes(running) == [pid]  # one, however many events

        os.kill(pid, signal.SIGKILL)  # out of memory, say: another takes its place
        [pid] = wait_for(
            "another delivery process", lambda: [p for p in delivery_processes(running) if p != pid]
        )
        os.kill(running.process.pid, ending)
        running.process.wait(timeout=30)
        wait_for("the delivery process to end", lambda: not alive(pid))
    finally:
        stop_server(running)


# ---- replicas ---------------------------------------------------------------------------


@pytest.fixture
def two_replicas(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    if not on_postgres():
        pytest.skip("replicas share a PostgreSQL database: run with --backend postgres")
    if (why := redis_missing()) is not None:
        pytest.skip(why)
    from tests.replicas.conftest import shared_bus, start_pair

    pair = start_pair(tmp_path, shared_bus("redis", tmp_path), extra_env=ALLOW_PRIVATE)
    yield pair.a, pair.b
    stop_server(pair.a)
    stop_server(pair.b)


def test_with_two_replicas_each_delivery_is_sent_once(
    two_replicas: tuple[Server, Server], receivers: MakeReceiver
) -> None:
    a, b = two_replicas
    kit = new_agency(a)
    on_b = AgencyKit(server=b, slug=kit.slug, id=kit.id)
    port = free_port()
    created = register(kit.client(Role.admin), f"http://127.0.0.1:{port}/hook")
    receiver = receivers(created["secret"], port)
    receiver.start(fail=1)
    with kit.client(Role.dispatcher) as desk_a, on_b.client(Role.dispatcher) as desk_b:
        for _ in range(3):
            responder(desk_a, kind="clinician")
            responder(desk_b, kind="clinician")

    expected = logged_seqs(kit, created["delivered_through"])
    got = wait_for(
        "every event", lambda: (a := receiver.accepted()) and a[-1]["seq"] >= expected[-1] and a
    )
    assert [g["seq"] for g in got] == expected
    tries = [e["idempotency_key"] for e in receiver.entries()]
    assert tries == [str(expected[0])] + [str(s) for s in expected]  # one 500, then each once
    assert uuid.UUID(created["id"])
