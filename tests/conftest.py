"""Shared fixtures: a real CoRespond server process on a real SQLite file.

One server runs for the whole session; every test gets its own agency, so tests
cannot see each other's responders or calls (agencies are tenants).
"""

import hashlib
import os
import socket
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
import psutil
import pytest
import redis
from sqlalchemy import update
from sqlmodel import col

from models.agency import Agency
from models.vocabulary import Role
from service.agencies.operations import create_agency
from service.metrics import samples
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.trust.auth import issue_token

CORESPOND = str(Path(sys.executable).with_name("corespond"))
POSTGRES_ADMIN_URL = os.environ.get(
    "CORESPOND_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CORESPOND_TEST_REDIS", "redis://127.0.0.1:6379/0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgres"),
        default=os.environ.get("CORESPOND_TEST_BACKEND", "sqlite"),
        help="the database the servers under test run on",
    )


_BACKEND = {"name": "sqlite"}
_CREATED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    _BACKEND["name"] = config.getoption("--backend")
    if _BACKEND["name"] == "postgres":
        try:
            _admin_execute("SELECT 1")
        except Exception as exc:
            message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}"
            if os.environ.get("CI") == "true":
                raise pytest.UsageError(message) from exc
            _BACKEND["skip"] = message
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            message = f"Redis is not reachable at {REDIS_URL}: {exc}"
            if os.environ.get("CI") == "true":
                raise pytest.UsageError(message) from exc
            _BACKEND["no_redis"] = message


def on_postgres() -> bool:
    """The run is `--backend postgres` (and PostgreSQL answers)."""
    return _BACKEND["name"] == "postgres" and "skip" not in _BACKEND


def redis_missing() -> str | None:
    """Why Redis cannot be used in this run, or None."""
    return _BACKEND.get("no_redis")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "skip" in _BACKEND:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=_BACKEND["skip"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in _CREATED:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_execute(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def bus_url(tmp: Path) -> str:
    """The bus for the servers whose files live in `tmp`: in memory on SQLite; on
    PostgreSQL Redis (as deployed), on a channel of their own."""
    if _BACKEND["name"] == "sqlite" or "no_redis" in _BACKEND:
        return "memory://"
    channel = "corespond_test_" + hashlib.sha1(str(tmp).encode()).hexdigest()[:16]  # noqa: S324
    return f"{REDIS_URL}?channel={channel}"


def database_url(tmp: Path) -> str:
    """The database for the server whose files live in `tmp`: a SQLite file there, or a
    throwaway PostgreSQL database named after it (the same one again on a restart)."""
    if _BACKEND["name"] == "sqlite":
        return f"sqlite:///{tmp / 'corespond.db'}"
    name = "corespond_test_" + hashlib.sha1(str(tmp).encode()).hexdigest()[:16]  # noqa: S324
    if name not in _CREATED:
        _admin_execute(f'CREATE DATABASE "{name}"')
        _CREATED.append(name)
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    ws_url: str
    env: dict[str, str]
    uow: UnitOfWork
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def metrics_url(self) -> str:
        """Its Prometheus listener (each test server has a port of its own)."""
        return f"http://127.0.0.1:{self.env['CORESPOND_METRICS_PORT']}/metrics"

    def metrics(self) -> dict[str, float]:
        """The server's samples from its metrics listener, by name
        (`service.metrics.samples`)."""
        return samples(httpx.get(self.metrics_url, timeout=10).text)


def start_server(
    tmp: Path,
    *,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    name: str = "server",
) -> Server:
    """`corespond serve` on the database of `tmp` (the same port again, if given, for
    a restart that consoles must find). Servers started on the same `tmp` under other
    `name`s are replicas: they share the database and the bus."""
    port = port or free_port()
    db_url = database_url(tmp)
    env = {
        **os.environ,
        "CORESPOND_DATABASE_URL": db_url,
        "CORESPOND_BUS_URL": bus_url(tmp),
        "CORESPOND_PORT": str(port),
        "CORESPOND_HOST": "127.0.0.1",
        "CORESPOND_LOG_LEVEL": "warning",
        "CORESPOND_TIMER_INTERVAL_S": "0.2",
        "CORESPOND_TOKEN_CHECK_INTERVAL_S": "0.5",
        # Tests drive one token hard, and all come from one address; the limits
        # themselves are tested on servers of their own.
        "CORESPOND_RATE_LIMIT": "100000/second",
        "CORESPOND_AUTH_FAIL_LIMIT": "100000/second",
        # Servers side by side on one host each need their own.
        "CORESPOND_METRICS_PORT": str(free_port()),
        **(extra_env or {}),
    }
    log = tmp / f"{name}.log"
    process = subprocess.Popen(
        [CORESPOND, "serve"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # a loaded 2-core machine starts two replicas slowly
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    engine = make_engine(Settings(database_url=db_url))
    upgrade(engine)
    return Server(
        url=url,
        ws_url=f"ws://127.0.0.1:{port}/v1/ws",
        env=env,
        uow=UnitOfWork(engine, bus=None, serialize_writes=False),
        process=process,
        log=log,
    )


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    stop_server(running)


@dataclass
class AgencyKit:
    """One agency on the shared server, with the means to act in it."""

    server: Server
    slug: str
    id: uuid.UUID

    def token(
        self,
        role: Role,
        *,
        responder_id: uuid.UUID | str | None = None,
        expires_in: timedelta | None = None,
    ) -> str:
        def issue(tx: Tx) -> str:
            agency = tx.session.get(Agency, self.id)
            assert agency is not None
            rid = uuid.UUID(str(responder_id)) if responder_id else None
            expires = tx.now + expires_in if expires_in is not None else None
            return issue_token(tx, agency=agency, role=role, responder_id=rid, expires_at=expires)

        return self.server.uow.write_sync(issue)

    def set_offer_timeout(self, seconds: int) -> None:
        """Shorter than an agency may choose (5 s), so expiry tests run quickly."""

        def shorten(tx: Tx) -> None:
            tx.session.execute(
                update(Agency).where(col(Agency.id) == self.id).values(offer_timeout_s=seconds)
            )

        self.server.uow.write_sync(shorten)

    def client(self, role: Role, *, responder_id: uuid.UUID | str | None = None) -> httpx.Client:
        token = self.token(role, responder_id=responder_id)
        return httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )


def new_agency(server: Server) -> AgencyKit:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    created = server.uow.write_sync(create_agency, slug=slug)
    return AgencyKit(server=server, slug=slug, id=created.id)


@pytest.fixture
def agency(server: Server) -> AgencyKit:
    return new_agency(server)


@pytest.fixture
def make_agency(server: Server) -> Callable[[], AgencyKit]:
    """Another agency on the same server, for tests of what crosses tenants."""
    return lambda: new_agency(server)


@pytest.fixture
def cli(server: Server) -> Callable[..., str]:
    """Run `corespond …` against the server's database; its stdout (it must succeed)."""

    def run(*args: str) -> str:
        done = subprocess.run(
            [CORESPOND, *args], env=server.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


@pytest.fixture
def dispatcher(agency: AgencyKit) -> Iterator[httpx.Client]:
    with agency.client(Role.dispatcher) as client:
        yield client


@pytest.fixture
def supervisor(agency: AgencyKit) -> Iterator[httpx.Client]:
    with agency.client(Role.supervisor) as client:
        yield client


@pytest.fixture
def programme(supervisor: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Put a programme document in force for the test's agency; the rules as read back."""

    def put(document: dict[str, Any]) -> dict[str, Any]:
        answer = supervisor.put("/v1/rules", json=document)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    return put


def spawned_children(pid: int) -> list[int]:
    """The running processes that `multiprocessing` spawned for process `pid` (its
    delivery process, its EIDO builder; not its resource tracker), from whichever of
    its threads started them."""
    try:
        children = psutil.Process(pid).children()  # by parent id: any thread's children
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if alive(child.pid) and any("spawn_main" in part for part in child.cmdline()):
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue  # ended meanwhile
    return found


def alive(pid: int) -> bool:
    """Running (not ended, nor ended and waiting to be reaped)."""
    try:
        status = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    return status not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def classes_of_threads(pid: int) -> dict[int, int]:
    """Each thread's scheduling class, of the threads still running when read."""
    found = {}
    for thread in psutil.Process(pid).threads():
        try:
            found[thread.id] = os.sched_getscheduler(thread.id)
        except ProcessLookupError:
            continue  # ended meanwhile
    return found
