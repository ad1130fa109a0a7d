"""Two real `corespond serve` processes on different ports, sharing one PostgreSQL
database and one bus: what a load balancer in front of replicas gives consoles."""

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    REDIS_URL,
    Server,
    database_url,
    free_port,
    on_postgres,
    redis_missing,
    start_server,
    stop_server,
)


def _require_postgres_and_redis() -> None:
    if not on_postgres():
        pytest.skip("replicas share a PostgreSQL database: run with --backend postgres")
    if (why := redis_missing()) is not None:
        pytest.skip(why)


@pytest.fixture(autouse=True)
def _needs_postgres_and_redis() -> None:
    _require_postgres_and_redis()


def shared_bus(kind: str, tmp: Path) -> str:
    """A bus of `kind` on a channel of its own."""
    channel = "corespond_test_" + hashlib.sha1(str(tmp).encode()).hexdigest()[:12]  # noqa: S324
    if kind == "redis":
        return f"{REDIS_URL}?channel={channel}"
    return database_url(tmp).replace("postgresql+psycopg://", "postgres://") + f"?channel={channel}"


@dataclass
class Pair:
    a: Server
    b: Server
    bus: str


def start_pair(tmp: Path, bus: str, extra_env: dict[str, str] | None = None) -> Pair:
    env = {"CORESPOND_BUS_URL": bus, **(extra_env or {})}
    a = start_server(tmp, name="a", extra_env=env)
    b = start_server(tmp, name="b", extra_env=env)
    return Pair(a=a, b=b, bus=bus)


@pytest.fixture(scope="module", params=["redis", "postgres"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    """Replicas A and B over Redis pub/sub, then over LISTEN/NOTIFY."""
    _require_postgres_and_redis()  # (module fixtures are set up before the autouse one)
    tmp = tmp_path_factory.mktemp(f"pair-{request.param}")
    started = start_pair(tmp, shared_bus(request.param, tmp))
    yield started
    stop_server(started.a)
    stop_server(started.b)


@dataclass
class RedisServer:
    url: str
    port: int
    start: Callable[[], None]
    stop: Callable[[], None]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own on a free port, to stop and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        log = (tmp_path / "redis.log").open("ab")
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done = subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
            )
            if done.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    start()
    yield RedisServer(url=f"redis://127.0.0.1:{port}/0", port=port, start=start, stop=stop)
    stop()


def wait_for_status(url: str, status: int, timeout_s: float = 20) -> httpx.Response:
    """Poll `url` until it answers `status` (the timeout only stops a hang)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(url, timeout=5)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)
