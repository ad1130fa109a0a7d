"""`corespond console` driven as a real process: lines in on stdin, lines out on stdout."""

import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from models.vocabulary import Role
from service.agencies.operations import create_agency
from tests.conftest import CORESPOND, AgencyKit, Server, start_server, stop_server
from tests.service.factories import post_call, responder


class Terminal:
    """A running `corespond console`, read line by line on a thread of its own."""

    def __init__(self, server: Server, token: str) -> None:
        self.process = subprocess.Popen(
            [CORESPOND, "console", "--url", server.ws_url],
            env={**server.env, "CORESPOND_TOKEN": token},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, pattern: str, within_s: float = 20) -> re.Match[str]:
        """The first new line matching `pattern` (the time only stops a hang)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r}; saw:\n" + "\n".join(self.seen))

    def close(self) -> int:
        if self.process.poll() is None:
            self.type("quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def test_a_clinician_answers_an_offer_from_the_terminal(
    agency: AgencyKit, dispatcher: httpx.Client, terminals: list[Terminal]
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    terminal = Terminal(agency.server, agency.token(Role.responder, responder_id=clinician["id"]))
    terminals.append(terminal)
    terminal.wait_for(r"connected as responder")
    call = post_call(dispatcher, category="welfare_check", address="22 Elm St")
    assignment = call["assignments"][0]["id"]
    offer = terminal.wait_for(
        r"OFFER (\w{8}) as clinician on team clinician · welfare check · P2 · 22 Elm St"
    )
    assert assignment.startswith(offer.group(1))
    terminal.type(f"accept {offer.group(1)}")
    terminal.wait_for(rf"ok: accept {offer.group(1)} → accepted")
    terminal.type("enroute")  # the only open assignment: no id needed
    terminal.wait_for(r"ok: status \w{8} → en_route")
    terminal.type("fly away")
    terminal.wait_for(r"unknown command 'fly'")
    state = dispatcher.get(f"/v1/assignments/{assignment}").json()["state"]
    assert state == "en_route"
    terminal.type("onscene")
    terminal.type("clear referred")
    terminal.wait_for(r"ok: status \w{8} → cleared")
    assert dispatcher.get(f"/v1/calls/{call['id']}").json()["disposition"] == "referred"
    terminal.type("off")
    terminal.wait_for(r"ok: you are off duty")
    assert terminal.close() == 0


def test_a_clinician_stood_down_reads_why_on_the_terminal(
    agency: AgencyKit, dispatcher: httpx.Client, terminals: list[Terminal]
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    terminal = Terminal(agency.server, agency.token(Role.responder, responder_id=clinician["id"]))
    terminals.append(terminal)
    terminal.wait_for(r"connected as responder")
    call = post_call(dispatcher, category="welfare_check")
    terminal.wait_for(r"OFFER \w{8} as clinician")
    dispatcher.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "caller is fine"})
    terminal.wait_for(
        r"assignment.cancelled \w{8} clinician → cancelled \(call cancelled: caller is fine\)"
    )


def test_a_refused_token_ends_the_terminal_with_status_2(agency: AgencyKit) -> None:
    terminal = Terminal(agency.server, "cr_nobody")
    terminal.wait_for(r"refused: the token is unknown, revoked or expired")
    assert terminal.process.wait(timeout=10) == 2


def test_the_terminal_reconnects_after_a_restart_and_shows_what_it_missed(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    server = start_server(tmp_path)
    try:
        created = server.uow.write_sync(create_agency, slug="term")
        kit = AgencyKit(server=server, slug="term", id=created.id)
        with kit.client(Role.dispatcher) as desk:
            clinician = responder(desk, kind="clinician")
        terminal = Terminal(server, kit.token(Role.responder, responder_id=clinician["id"]))
        terminals.append(terminal)
        terminal.wait_for(r"connected as responder")
        port = urlsplit(server.url).port
        stop_server(server)
        terminal.wait_for(r"connection lost|cannot connect")
        server = start_server(tmp_path, port=port)
        kit = AgencyKit(server=server, slug="term", id=created.id)
        with kit.client(Role.dispatcher) as desk:
            post_call(desk, address="9 Restart Rd")
        terminal.wait_for(r"OFFER \w{8} as clinician .* 9 Restart Rd", within_s=40)
        assert any("reconnected as responder" in line for line in terminal.seen)
    finally:
        stop_server(server)
