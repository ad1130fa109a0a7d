"""Calls streaming in while a server dies: what a CAD sees during a kill -9."""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from tests.service.factories import call_body, north_of


def stream_calls_then_kill(
    clients: Sequence[Callable[[], httpx.Client]],
    victim: subprocess.Popen[bytes],
    *,
    before: int,
    after: int = 0,
) -> list[dict[str, Any]]:
    """Post calls from a thread per client until `before` got a 201; kill -9 `victim`;
    go on until `after` more got one from the clients still answering. The 201 bodies."""
    acknowledged: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def stream(client: Callable[[], httpx.Client]) -> None:
        with client() as cad:
            for i in range(300):
                if stop.is_set():
                    return
                try:
                    answer = cad.post("/v1/calls", json=call_body(at=north_of(30 * i)))
                except httpx.TransportError:
                    return
                if answer.status_code == 201:
                    with lock:
                        acknowledged.append(answer.json())

    threads = [threading.Thread(target=stream, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()

    def wait_for(count: int) -> None:
        while len(acknowledged) < count and any(t.is_alive() for t in threads):
            time.sleep(0.02)

    wait_for(before)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    wait_for(len(acknowledged) + after)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return acknowledged
