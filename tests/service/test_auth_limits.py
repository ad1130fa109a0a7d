"""A scanner guessing tokens from one address: after `CORESPOND_AUTH_FAIL_LIMIT` failed
logons it is turned away with 429 until the window passes, the trail does not grow by
a row a guess, and the dispatchers and consoles behind the same address work on."""

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from models.vocabulary import Role
from service.agencies.operations import create_agency
from service.store.transaction import Tx
from tests.conftest import AgencyKit, Server, start_server, stop_server
from tests.service.consoles import console

TOO_MANY = 4429


def _made_up() -> str:
    return "cr_" + secrets.token_urlsafe(32)


def _calls_with(server: Server, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server.url}/v1/calls", headers=headers, timeout=10)


def _denied_rows(server: Server, action: str) -> int:
    """Refusals of `action` in the whole trail, agencies or none (a made-up token has
    no agency, so no agency's supervisor can list its refusals)."""

    def count(tx: Tx) -> int:
        query = text("SELECT count(*) FROM audit_record WHERE outcome = 'denied' AND action = :a")
        return int(tx.session.execute(query, {"a": action}).scalar_one())

    return server.uow.read_sync(count)


def _agency(server: Server) -> AgencyKit:
    created = server.uow.write_sync(create_agency, slug="county")
    return AgencyKit(server=server, slug="county", id=created.id)


def _socket_logon(server: Server, token: str) -> tuple[int | None, str]:
    """Say hello with `token`; the close code and reason the server answers with."""
    with connect(server.ws_url) as ws:
        ws.send('{"type": "hello", "token": "' + token + '"}')
        try:
            for _ in range(10):
                ws.recv(timeout=5)
        except ConnectionClosed as closed:
            return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")
    return None, ""


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Server]:
    # The default limit; the shared test server's is lifted, as its rate limit is.
    server = start_server(tmp_path, extra_env={"CORESPOND_AUTH_FAIL_LIMIT": "60/minute"})
    yield server
    stop_server(server)


def test_made_up_tokens_from_one_address_get_429_after_60_and_real_tokens_work_on(
    guarded: Server,
) -> None:
    county = _agency(guarded)
    lapsed = county.token(Role.dispatcher, expires_in=timedelta(seconds=-1))

    answers = [_calls_with(guarded, _made_up()).status_code for _ in range(80)]
    assert answers[:60] == [401] * 60
    assert answers[60:] == [429] * 20

    turned_away = _calls_with(guarded, _made_up())
    assert turned_away.json()["error"] == "TooManyRequests"
    assert "failed" in turned_away.json()["detail"]
    assert 1 <= int(turned_away.headers["retry-after"]) <= 60
    assert _calls_with(guarded, None).status_code == 429  # no token: the same address
    assert [_calls_with(guarded, lapsed).status_code for _ in range(10)] == [429] * 10

    # The dispatchers behind the same address (the same proxy) are served as before.
    with county.client(Role.dispatcher) as desk:
        assert desk.get("/v1/calls").status_code == 200
    with console(guarded.ws_url, county.token(Role.dispatcher)) as screen:
        assert screen.welcome["type"] == "welcome"

    # One audit row for each refusal answered 401, none for the guesses turned away.
    assert _denied_rows(guarded, "GET /v1/calls") == 60
    with county.client(Role.admin) as admin:
        in_county = admin.get("/v1/audit", params={"outcome": "denied"})
    assert in_county.status_code == 200
    assert in_county.json() == []  # the lapsed token's ten tries were not written


def test_failed_socket_logons_count_toward_the_same_limit(tmp_path: Path) -> None:
    server = start_server(tmp_path, extra_env={"CORESPOND_AUTH_FAIL_LIMIT": "5/minute"})
    try:
        county = _agency(server)
        refused = [_socket_logon(server, _made_up())[0] for _ in range(5)]
        assert refused == [4401] * 5
        code, reason = _socket_logon(server, _made_up())
        assert code == TOO_MANY
        assert "failed logons" in reason
        assert _calls_with(server, _made_up()).status_code == 429  # HTTP shares the count
        assert _denied_rows(server, "logon") == 5

        with console(server.ws_url, county.token(Role.dispatcher)) as screen:
            assert screen.welcome["type"] == "welcome"
    finally:
        stop_server(server)


def test_the_window_passes_and_the_address_may_try_again(tmp_path: Path) -> None:
    server = start_server(tmp_path, extra_env={"CORESPOND_AUTH_FAIL_LIMIT": "3 per 2 seconds"})
    try:
        answers = [_calls_with(server, _made_up()).status_code for _ in range(4)]
        assert answers == [401, 401, 401, 429]
        assert int(_calls_with(server, _made_up()).headers["retry-after"]) <= 2
        # As a client told to wait would: once the window has passed, it is heard again.
        deadline = time.monotonic() + 10
        while (again := _calls_with(server, _made_up()).status_code) == 429:
            assert time.monotonic() < deadline, "still 429 long after the window"
            time.sleep(0.2)
        assert again == 401
    finally:
        stop_server(server)
