"""What the webhook tests share: real receiver processes
(tests/service/webhook_receiver.py) and the `receivers` fixture that makes them, a
server's endpoint registered, its events as logged and its deliveries as listed."""

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from models.event import Event
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.service.factories import post_call, responder

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
