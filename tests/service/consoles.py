"""A console as a test drives it: a real WebSocket client (websockets, sync API)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol


class TestConsole:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = 5) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
        return frame

    def next_event(self, name: str, timeout: float = 5) -> dict[str, Any]:
        """Skip frames until the event `name` arrives (the timeout only stops a hang)."""
        for _ in range(100):
            frame = self.recv(timeout)
            if frame.get("type") == "event" and frame["event"] == name:
                return frame
        raise AssertionError(f"no {name} event in 100 frames")

    def next_of_type(self, kind: str, timeout: float = 5) -> dict[str, Any]:
        for _ in range(100):
            frame = self.recv(timeout)
            if frame.get("type") == kind:
                return frame
        raise AssertionError(f"no {kind} frame in 100 frames")

    def drain(self, timeout: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives until the line goes quiet for `timeout` seconds."""
        frames = []
        while True:
            try:
                frames.append(self.recv(timeout))
            except TimeoutError:
                return frames


@contextmanager
def console(
    ws_url: str,
    token: str,
    *,
    resume_after: int | None = None,
    via_subprotocol: bool = False,
) -> Iterator[TestConsole]:
    subprotocols = [Subprotocol(f"bearer.{token}")] if via_subprotocol else None
    with connect(ws_url, subprotocols=subprotocols) as ws:
        client = TestConsole(ws)
        hello: dict[str, Any] = {"type": "hello", "resume_after": resume_after}
        if not via_subprotocol:
            hello["token"] = token
        client.send(hello)
        client.welcome = client.recv()
        assert client.welcome["type"] == "welcome", client.welcome
        yield client
