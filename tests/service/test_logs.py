"""What an operator reads in the server's log: one access line a request, with anything
shaped like a token redacted, whoever put it in the URL."""

import io
import logging
from pathlib import Path

import httpx

from service.logs import ScrubTokens
from tests.conftest import start_server, stop_server

TOKEN_SHAPED = "cr_AAAAAAAAAAAAAAAAAAAA"


def test_a_token_shaped_query_logs_one_redacted_access_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    # The shared server logs warnings only; access lines are info.
    server = start_server(tmp_path, extra_env={"CORESPOND_LOG_LEVEL": "info"})
    try:
        probed = httpx.get(f"{server.url}/healthz", params={"x": TOKEN_SHAPED})
        assert probed.status_code == 200
    finally:
        stop_server(server)  # the log is flushed when the process ends
    log = server.log.read_text()
    assert "Traceback" not in log
    assert TOKEN_SHAPED not in log
    [access] = [line for line in log.splitlines() if "GET /healthz?" in line]
    assert "x=cr_[redacted]" in access
    assert "200" in access


def test_a_token_shaped_path_is_redacted_in_the_access_line_of_an_api_refusal(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, extra_env={"CORESPOND_LOG_LEVEL": "info"})
    try:
        missing = httpx.get(f"{server.url}/v1/calls/{TOKEN_SHAPED}")
        assert missing.status_code in (401, 404, 422)
    finally:
        stop_server(server)
    log = server.log.read_text()
    assert "Traceback" not in log
    assert TOKEN_SHAPED not in log
    assert any("GET /v1/calls/cr_[redacted]" in line for line in log.splitlines())


def test_a_token_in_an_exceptions_traceback_is_redacted_too() -> None:
    """A library that fails on a token-shaped value and logs its traceback (the
    exception's message quotes the value) must not put the token in the log."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubTokens())
    logger = logging.getLogger("tests.logs.traceback")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"bad header value {TOKEN_SHAPED!r}")
        except ValueError:
            logger.exception("handshake failed for %s", TOKEN_SHAPED)
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "Traceback" in written and "ValueError: bad header value" in written
    assert TOKEN_SHAPED not in written
    assert written.count("cr_[redacted]") == 2
