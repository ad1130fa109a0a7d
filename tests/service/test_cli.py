"""The command line as a newcomer uses it: agency, token, demo, and a fresh serve."""

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from models.vocabulary import Role
from tests.conftest import CORESPOND, AgencyKit, Server, on_postgres, start_server, stop_server
from tests.service.consoles import console
from tests.service.factories import call_body

ROOT = Path(__file__).resolve().parents[2]


def _run(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CORESPOND, *args], env=server.env, capture_output=True, text=True, timeout=60, check=False
    )


def test_agency_and_token_from_the_command_line_work_over_http(server: Server) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    created = _run(server, "agency", "create", slug, "--name", "Springfield CIT")
    assert created.returncode == 0, created.stderr
    issued = _run(server, "token", "create", "--agency", slug, "--role", "dispatcher")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("cr_")

    response = httpx.get(f"{server.url}/v1/calls", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == []


def test_the_compose_examples_commands_work(server: Server) -> None:
    """deploy/compose.yaml tells an operator which commands to run in a replica."""
    compose = (ROOT / "deploy/compose.yaml").read_text()
    commands = re.findall(r"exec replica-a corespond (.+)", compose)
    assert len(commands) == 2
    slug = f"county-{uuid.uuid4().hex[:8]}"
    for command in commands:
        done = _run(server, *shlex.split(command.replace("county", slug)))
        assert done.returncode == 0, f"corespond {command}: {done.stderr}"
    assert done.stdout.strip().splitlines()[-1].startswith("cr_")


def test_token_for_a_responder_needs_the_responder(server: Server) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    _run(server, "agency", "create", slug)
    refused = _run(server, "token", "create", "--agency", slug, "--role", "responder")
    assert refused.returncode != 0
    assert "--responder" in refused.stderr
    unknown = _run(server, "token", "create", "--agency", "nowhere", "--role", "cad")
    assert unknown.returncode != 0
    assert "no agency 'nowhere'" in unknown.stderr


def test_a_duplicate_agency_is_refused(server: Server) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    assert _run(server, "agency", "create", slug).returncode == 0
    again = _run(server, "agency", "create", slug)
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_demo_on_a_fresh_machine_shows_an_offer_on_the_clinicians_console(
    tmp_path: Path,
) -> None:
    fresh = start_server(tmp_path)  # an empty database: the migrations make the schema
    try:
        demo = _run(fresh, "demo")
        assert demo.returncode == 0, demo.stderr
        lines = demo.stdout.splitlines()
        dispatcher = next(x for x in lines if x.startswith("Dispatcher token:")).split()[-1]
        clinician = next(x for x in lines if x.startswith("Responder token:")).split()[-1]
        where = next(x for x in lines if "acts as clinician" in x)
        lat, lon = (float(v) for v in where.rsplit(" at ", 1)[1].rstrip(")").split(", "))

        with console(fresh.ws_url, clinician) as phone:
            response = httpx.post(
                f"{fresh.url}/v1/calls",
                json=call_body(at=(lat, lon)),
                headers={"Authorization": f"Bearer {dispatcher}"},
            )
            assert response.status_code == 201, response.text
            offer = phone.next_event("assignment.offered")
        assert offer["data"]["call"]["id"] == response.json()["id"]
        assert _run(fresh, "demo").returncode == 0  # a second run reuses the agency

        # Its tokens lapse within a working day, and it says so.
        said = next(x for x in lines if x.startswith("Both expire at"))
        assert "(in 8 hours)" in said
        listed = _run(fresh, "token", "list", "--agency", "demo").stdout.splitlines()[1:]
        assert len(listed) == 4  # two a run
        for row in listed:
            expires = datetime.fromisoformat(row.split()[3])
            assert timedelta(hours=7) < expires - datetime.now(UTC) <= timedelta(hours=8)
    finally:
        stop_server(fresh)


def test_serve_says_where_to_go_and_a_taken_port_says_how_to_choose_another(
    tmp_path: Path,
) -> None:
    first = start_server(tmp_path)
    try:
        assert "the console at /console, the API at /docs" in first.log.read_text()
        assert "corespond demo" in first.log.read_text()
        second = subprocess.run(
            [CORESPOND, "serve"], env=first.env, capture_output=True, text=True, timeout=60
        )
        port = first.env["CORESPOND_PORT"]
        assert second.returncode == 1
        assert f"port {port} on 127.0.0.1 is in use" in second.stderr
        assert f"CORESPOND_PORT={int(port) + 1} make run" in second.stderr
        assert "Traceback" not in second.stderr
        assert httpx.get(f"{first.url}/healthz").status_code == 200  # the first serves on
    finally:
        stop_server(first)


def test_health_readiness_metrics_and_openapi(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["database"] == "ok"
    assert "corespond_calls_created" in httpx.get(server.metrics_url).text
    schema = httpx.get(f"{server.url}/openapi.json").json()
    post_calls = schema["paths"]["/v1/calls"]["post"]
    assert {"201", "401", "403", "409", "422"} <= set(post_calls["responses"])
    assert schema["components"]["schemas"]["CallCreate"]["examples"]


def test_metrics_show_the_writes_their_batches_and_the_loops_lag(agency: AgencyKit) -> None:
    """What an operator reads when calls queue: how long writes wait, how many commit
    together, how late the event loop runs."""
    server = agency.server
    before = server.metrics()
    dispatcher = {"Authorization": f"Bearer {agency.token(Role.dispatcher)}"}
    with httpx.Client(base_url=server.url, headers=dispatcher) as client:
        for _ in range(3):
            assert client.post("/v1/calls", json=call_body()).status_code == 201
    lag = "corespond_event_loop_lag_seconds_count"
    deadline = time.monotonic() + 10  # the watcher wakes ten times a second
    while (after := server.metrics())[lag] < before.get(lag, 0) + 2 and time.monotonic() < deadline:
        time.sleep(0.1)

    def grew(name: str) -> float:
        return after[name] - before.get(name, 0.0)

    assert grew("corespond_write_seconds_count") >= 3  # the three calls
    assert grew("corespond_write_seconds_sum") > 0
    assert grew("corespond_write_work_seconds_count") >= 3
    assert grew(lag) >= 2
    if on_postgres():  # a write is a transaction of its own there: no batches
        assert grew("corespond_write_batch_size_count") == 0
    else:
        assert grew("corespond_write_batch_size_sum") >= 3
        assert (
            1 <= grew("corespond_write_batch_size_count") <= grew("corespond_write_batch_size_sum")
        )
        assert grew("corespond_write_batch_seconds_sum") > 0


def test_bad_settings_are_named_and_nothing_starts(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CORESPOND_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        "CORESPOND_BUS_URL": "kafka://127.0.0.1:9092",
        "CORESPOND_RATE_LIMIT_STORAGE": "memcached://127.0.0.1",
        "CORESPOND_TIMER_INTERVAL_S": "0",
    }
    done = subprocess.run([CORESPOND, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "CORESPOND_BUS_URL: unsupported bus URL 'kafka://127.0.0.1:9092'" in done.stderr
    assert "CORESPOND_RATE_LIMIT_STORAGE: unsupported rate-limit storage" in done.stderr
    assert "CORESPOND_TIMER_INTERVAL_S: Input should be greater than 0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "never.db").exists()


def test_a_process_the_server_spawns_runs_the_script_without_importing_the_service() -> None:
    """`multiprocessing` starts the delivery process and the EIDO builder by running the
    server's main script again (as `__mp_main__`, for its definitions) before their
    own code can put them behind the server: the `corespond` script must cost no more
    than its entry point there, not the commands and all they import."""
    probe = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1], run_name='__mp_main__'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('service', 'models', 'sqlalchemy', 'fastapi', 'numpy'))))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe, CORESPOND], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == ["service", "service.cli"]
