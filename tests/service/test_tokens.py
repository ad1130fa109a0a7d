"""Tokens over their life: issued with an expiry, listed, revoked; a lapsed token is
refused over HTTP and its open consoles are closed; no token is ever logged."""

import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from models.vocabulary import Role
from tests.conftest import CORESPOND, AgencyKit, start_server, stop_server
from tests.service.consoles import TestConsole, console


def _closed_with(client: TestConsole, within_s: float = 10) -> int | None:
    """The close code the server sends; frames before it are skipped."""
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            client.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


def _token_id(cli: Any, slug: str, label: str) -> str:
    lines = [line for line in cli("token", "list", "--agency", slug).splitlines() if label in line]
    assert len(lines) == 1, lines
    return str(lines[0].split()[0])


def test_a_new_token_expires_by_default_and_the_list_never_shows_a_token(
    agency: AgencyKit, cli: Any
) -> None:
    issued = cli("token", "create", "--agency", agency.slug, "--role", "cad", "--label", "cad-feed")
    token = issued.splitlines()[-1]
    forever = cli(
        "token",
        "create",
        "--agency",
        agency.slug,
        "--role",
        "cad",
        "--label",
        "cad-forever",
        "--never-expires",
    )
    listing = cli("token", "list", "--agency", agency.slug)
    assert token not in listing and token[3:] not in listing
    assert forever.splitlines()[-1] not in listing
    row = next(line for line in listing.splitlines() if "cad-feed" in line)
    expires = time.gmtime(time.time() + 90 * 86400)
    assert "active" in row and time.strftime("%Y-%m-%d", expires) in row
    assert "never" in next(line for line in listing.splitlines() if "cad-forever" in line)


def test_a_revoked_token_is_refused_and_its_open_console_is_closed(
    agency: AgencyKit, cli: Any
) -> None:
    issued = cli(
        "token", "create", "--agency", agency.slug, "--role", "dispatcher", "--label", "desk-7"
    )
    token = issued.splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{agency.server.url}/v1/calls", headers=headers).status_code == 200
    with console(agency.server.ws_url, token) as desk:
        token_id = _token_id(cli, agency.slug, "desk-7")
        assert "revoked" in cli("token", "revoke", token_id)
        assert _closed_with(desk) == 4401
    refused = httpx.get(f"{agency.server.url}/v1/calls", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "Unauthorized"
    assert "revoked" in next(
        line
        for line in cli("token", "list", "--agency", agency.slug).splitlines()
        if "desk-7" in line
    )
    again = subprocess.run(
        [CORESPOND, "token", "revoke", token_id],
        env=agency.server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode != 0 and "already" in again.stderr


def test_an_expired_token_is_refused_and_its_open_console_is_closed(agency: AgencyKit) -> None:
    token = agency.token(Role.dispatcher, expires_in=timedelta(seconds=2))
    with console(agency.server.ws_url, token) as desk:
        assert _closed_with(desk) == 4401
    answer = httpx.get(
        f"{agency.server.url}/v1/calls", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401


@pytest.fixture
def chatty_server(tmp_path: Path) -> Any:
    server = start_server(tmp_path, extra_env={"CORESPOND_LOG_LEVEL": "debug"})
    yield server
    stop_server(server)


def test_tokens_never_reach_the_log(chatty_server: Any) -> None:
    from service.agencies.operations import create_agency

    created = chatty_server.uow.write_sync(create_agency, slug="logs")
    kit = AgencyKit(server=chatty_server, slug="logs", id=created.id)
    token = kit.token(Role.dispatcher)
    secret = token.removeprefix("cr_")
    url, ws_url = chatty_server.url, chatty_server.ws_url
    httpx.get(f"{url}/v1/calls", headers={"Authorization": f"Bearer {token}"})
    httpx.get(f"{url}/v1/calls", headers={"Authorization": f"Bearer {token}x"})
    httpx.post(f"{url}/v1/calls", headers={"Authorization": f"Bearer {token}"}, content=b"{")
    with console(ws_url, token):
        pass
    with console(ws_url, token, via_subprotocol=True):
        pass
    with connect(ws_url, subprotocols=[Subprotocol(f"bearer.{token}x")]) as ws:
        ws.send('{"type": "hello", "token": "' + token + 'x"}')
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    with connect(ws_url) as ws:
        ws.send('{"type": "hello", "token": "' + token + '", "resume_after": "x"}')
        assert "BadMessage" in str(ws.recv(timeout=5))  # it says what is wrong, not the token
    stop_server(chatty_server)
    log = chatty_server.log.read_text()
    assert "GET /v1/calls" in log  # the log did record the requests
    assert secret not in log
