"""Whatever a console sends, the socket answers with a frame and stays open (docs/api.md):
the message parser is fuzzed on its own, then a real socket is sent the same kinds of
input."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.console import Ack, AssignmentAction, Hello, Ping, ProgressAction
from models.vocabulary import Role
from service.consoles.socket import parse_message
from tests.conftest import Server, new_agency, start_server, stop_server
from tests.service.consoles import TestConsole, console

MESSAGES = (Ack, AssignmentAction, Hello, Ping, ProgressAction)
TYPES = ["hello", "ack", "ping", "accept", "decline", "status", "", "ACK", "welcome"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**53 - 2, max_value=2**80)
    | st.floats()
    | st.text(max_size=20)
    | st.uuids().map(str),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)

# Near misses: a known type, then fields of the right names with any values.
near_misses = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={
        "seq": json_values,
        "token": json_values,
        "resume_after": json_values,
        "assignment_id": json_values,
        "status": st.sampled_from(["en_route", "on_scene", "cleared", "lost"]) | json_values,
        "disposition": json_values,
        "extra": json_values,
    },
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _non_finite(text: str) -> str:
    return text.replace("0.5", "NaN").replace("1.5", "Infinity")


texts = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    near_misses.map(json.dumps),
    near_misses.map(lambda m: _non_finite(json.dumps({**m, "seq": 1.5}))),
    st.integers(min_value=1, max_value=30_000).map(_deep),
    st.integers(min_value=1, max_value=30_000).map(lambda d: '{"a":' * d + "1" + "}" * d),
    st.integers(min_value=4_000, max_value=6_000).map(lambda n: "1" * n),
    st.integers(min_value=4_000, max_value=6_000).map(lambda n: '{"type":"ack","seq":' + "9" * n),
)

MAX_FRAME = 64 * 1024  # larger frames close the socket with 1009, as documented

KNOWN_EDGES = [
    "[" * 20000 + "]" * 20000,  # json.loads raises RecursionError
    "1" * 5000,  # ValueError: too many digits for an int
    '{"type": "ack", "seq": ' + str(2**70) + "}",
    '{"type": "hello", "resume_after": 1e400}',
    "\ud800",
    "",
]


@settings(max_examples=600, deadline=None)
@given(text=texts)
def test_the_parser_answers_every_text_with_a_message_or_an_error_frame(text: str) -> None:
    parsed = parse_message({"type": "websocket.receive", "text": text})
    if isinstance(parsed, dict):
        assert parsed["type"] == "error" and parsed["error"] == "BadMessage"
        assert isinstance(parsed["detail"], str) and parsed["detail"]
    else:
        assert isinstance(parsed, MESSAGES)


@pytest.mark.parametrize("text", KNOWN_EDGES)
def test_the_parser_names_what_is_wrong_with_known_hard_cases(text: str) -> None:
    parsed = parse_message({"type": "websocket.receive", "text": text})
    assert isinstance(parsed, dict) and parsed["error"] == "BadMessage", parsed


def test_a_binary_frame_is_answered_with_an_error() -> None:
    parsed = parse_message({"type": "websocket.receive", "bytes": b"{}"})
    assert isinstance(parsed, dict) and "text frames" in parsed["detail"]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that lets one console send as fast as Hypothesis can (the flood cap is
    tested on its own)."""
    running = start_server(
        tmp_path_factory.mktemp("socket-fuzz"),
        extra_env={"CORESPOND_WS_MESSAGES_PER_S": "1000000"},
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def desk(fuzzed_server: Server) -> Iterator[TestConsole]:
    kit = new_agency(fuzzed_server)
    with console(fuzzed_server.ws_url, kit.token(Role.dispatcher)) as opened:
        yield opened


def _answers_until_fence(desk: TestConsole) -> list[dict[str, Any]]:
    """The frames that answer what was sent, up to the answer to a fence: an action on
    an assignment that does not exist, whose error names it (a ping would do but for
    a fuzzed ping, whose pong would look like the fence's)."""
    fence = str(uuid.uuid4())
    desk.send({"type": "accept", "assignment_id": fence})
    frames: list[dict[str, Any]] = []
    for _ in range(10):
        frame = desk.recv(timeout=10)
        if frame.get("assignment_id") == fence:
            assert frame["error"] == "NotFound", frame
            return frames
        frames.append(frame)
    raise AssertionError(f"no answer to the fence after {frames}")


def test_the_deepest_json_gets_an_error_frame_and_the_socket_stays_open(
    desk: TestConsole,
) -> None:
    desk.ws.send("[" * 20000 + "]" * 20000)
    [error] = _answers_until_fence(desk)
    assert error["error"] == "BadMessage" and "deep" in error["detail"]


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(texts, st.sampled_from([t for t in KNOWN_EDGES if t != "\ud800"])).filter(
        lambda t: len(t.encode()) <= MAX_FRAME
    )
)
def test_whatever_a_console_sends_it_gets_an_answer_and_the_socket_stays_open(
    desk: TestConsole, text: str
) -> None:
    desk.ws.send(text)
    frames = _answers_until_fence(desk)
    # An ack is not answered; anything else once (an error names what was wrong).
    assert len(frames) <= 1, frames
    for frame in frames:
        assert frame["type"] in ("error", "result", "pong"), frame
        if frame["type"] == "error":
            assert frame["error"] and frame["detail"], frame


def test_the_console_is_still_live_after_the_fuzzing(desk: TestConsole) -> None:
    assert _answers_until_fence(desk) == []
    desk.send({"type": "ping"})
    assert desk.recv() == {"type": "pong"}
