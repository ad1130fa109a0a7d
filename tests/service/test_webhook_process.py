"""The delivery process runs only while an endpoint exists and never outlives its
server, stopped or killed; with two replicas each delivery is sent once. The
deliveries themselves: test_webhooks.py."""

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.vocabulary import Role
from tests.conftest import (
    AgencyKit,
    Server,
    alive,
    classes_of_threads,
    free_port,
    new_agency,
    on_postgres,
    redis_missing,
    spawned_children,
    start_server,
    stop_server,
)
from tests.service.factories import responder
from tests.service.webhooks_kit import (
    ALLOW_PRIVATE,
    MakeReceiver,
    busy_morning,
    logged_seqs,
    receivers,
    register,
    wait_for,
)

__all__ = ["receivers"]  # the fixture, imported for pytest


# ---- the delivery process ---------------------------------------------------------------


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
        assert spawned_children(running.process.pid) == []

        port = free_port()
        created = register(admin, f"http://127.0.0.1:{port}/hook", ["responder.created"])
        receiver = receivers(created["secret"], port)
        receiver.start()
        [pid] = wait_for("the delivery process", lambda: spawned_children(running.process.pid))
        made = responder(desk, kind="clinician")
        got = wait_for("the delivery", receiver.accepted)
        assert got[0]["data"]["id"] == made["id"]
        assert spawned_children(running.process.pid) == [pid]  # one, however many events
        # Behind the server: every thread of it in the idle class, below the server's.
        assert set(classes_of_threads(pid).values()) == {os.SCHED_IDLE}
        assert os.getpriority(os.PRIO_PROCESS, pid) > os.getpriority(
            os.PRIO_PROCESS, running.process.pid
        )

        os.kill(pid, signal.SIGKILL)  # out of memory, say: another takes its place
        [pid] = wait_for(
            "another delivery process",
            lambda: [p for p in spawned_children(running.process.pid) if p != pid],
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
