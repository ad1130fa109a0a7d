"""Prometheus scrapes a listener of its own: whoever may reach the API (with or without
a token) cannot read how busy the service is, and replicas on one host each have a port."""

import subprocess
from pathlib import Path

import httpx

from tests.conftest import CORESPOND, Server, free_port, start_server, stop_server


def test_metrics_are_served_on_their_own_port_and_not_on_the_api_port(server: Server) -> None:
    on_the_api = httpx.get(f"{server.url}/metrics")
    assert on_the_api.status_code == 404
    assert on_the_api.json()["error"] == "NotFound"
    assert "/metrics" not in httpx.get(f"{server.url}/openapi.json").json()["paths"]

    scraped = httpx.get(server.metrics_url)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "corespond_calls_created_total" in scraped.text
    # Gauges read when scraped, from the listener's own thread.
    assert server.metrics()["corespond_bus_up"] == 1
    assert "corespond_bus_send_failures" in server.metrics()


def test_two_replicas_on_one_host_each_serve_their_own_metrics(tmp_path: Path) -> None:
    a = start_server(tmp_path, name="a")
    try:
        b = start_server(tmp_path, name="b")
        try:
            assert a.metrics_url != b.metrics_url
            assert "corespond_bus_up" in a.metrics() and "corespond_bus_up" in b.metrics()
        finally:
            stop_server(b)
    finally:
        stop_server(a)


def test_a_taken_metrics_port_says_which_setting_to_change_and_nothing_starts(
    server: Server,
) -> None:
    taken = server.env["CORESPOND_METRICS_PORT"]
    second = subprocess.run(
        [CORESPOND, "serve"],
        env={**server.env, "CORESPOND_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert f"metrics port {taken} on 127.0.0.1 is in use" in second.stderr
    assert f"CORESPOND_METRICS_PORT={int(taken) + 1}" in second.stderr
    assert "Traceback" not in second.stderr
    assert httpx.get(server.metrics_url).status_code == 200  # the first serves on


def test_metrics_port_0_serves_no_metrics_and_the_api_runs(tmp_path: Path) -> None:
    quiet = start_server(tmp_path, extra_env={"CORESPOND_METRICS_PORT": "0"})
    try:
        assert httpx.get(f"{quiet.url}/readyz").status_code == 200
        assert httpx.get(f"{quiet.url}/metrics").status_code == 404
    finally:
        stop_server(quiet)
