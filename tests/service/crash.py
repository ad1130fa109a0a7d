"""Calls streaming in while a server stops: what a CAD sees during a kill -9 or a
graceful stop (SIGTERM, as a deploy or `docker stop` sends it)."""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tests.service.factories import call_body, north_of


@dataclass(frozen=True)
class Sent:
    """One call a CAD posted: its key (if it sent one), its body, and the answer's
    status and body; None for both if no answer came (the connection failed)."""

    key: str | None
    body: dict[str, Any]
    status: int | None
    answer: dict[str, Any] | None


def stream_calls_then_stop(
    clients: Sequence[Callable[[], httpx.Client]],
    victim: subprocess.Popen[bytes],
    *,
    before: int,
    after: int = 0,
    how: signal.Signals = signal.SIGKILL,
    keyed: bool = False,
) -> list[Sent]:
    """Post calls from a thread per client until `before` got a 201; send `victim` the
    signal `how` and wait for it to end; go on until `after` more got one from the
    clients still answering. A client stops at its first call without an answer.
    With `keyed`, each call has an `Idempotency-Key` and an `external_id` of its own.
    Every call sent, in the order answered."""
    sent: list[Sent] = []
    lock = threading.Lock()
    stop = threading.Event()

    def taken() -> int:
        return sum(s.status == 201 for s in sent)

    def stream(n: int, client: Callable[[], httpx.Client]) -> None:
        with client() as cad:
            for i in range(300):
                if stop.is_set():
                    return
                key = f"stream-{n}-{i}" if keyed else None
                body = call_body(at=north_of(30 * i))
                if key is not None:
                    body["external_id"] = key
                headers = {"Idempotency-Key": key} if key else {}
                try:
                    answer = cad.post("/v1/calls", json=body, headers=headers)
                except httpx.TransportError:
                    with lock:
                        sent.append(Sent(key, body, None, None))
                    return
                is_json = answer.headers.get("content-type", "").startswith("application/json")
                said = answer.json() if is_json else None
                with lock:
                    sent.append(Sent(key, body, answer.status_code, said))

    threads = [threading.Thread(target=stream, args=(n, c)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()

    def wait_for(count: int) -> None:
        while taken() < count and any(t.is_alive() for t in threads):
            time.sleep(0.02)

    try:
        wait_for(before)
        os.kill(victim.pid, how)
        victim.wait(timeout=30)
        wait_for(taken() + after)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return sent


def acknowledged(sent: Sequence[Sent]) -> list[dict[str, Any]]:
    """The bodies of the calls answered 201."""
    return [s.answer for s in sent if s.status == 201 and s.answer is not None]
