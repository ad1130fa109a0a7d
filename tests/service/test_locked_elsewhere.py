"""Another process holding the SQLite file's write lock (a `corespond` command, a
`BEGIN IMMEDIATE` in the sqlite3 shell) makes writes wait their turn without stopping
the event loop: the server goes on answering meanwhile."""

import sqlite3
import threading

import httpx
import pytest

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.service.factories import call_body, responder


def test_a_write_lock_held_elsewhere_delays_writes_but_not_the_server(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    url = agency.server.env["CORESPOND_DATABASE_URL"]
    if not url.startswith("sqlite:///"):
        pytest.skip("the file lock of the embedded SQLite default")
    responder(dispatcher, kind="clinician")
    answers: list[httpx.Response] = []
    cad = agency.client(Role.cad)  # its token written before the lock is taken

    def post() -> None:
        answers.append(cad.post("/v1/calls", json=call_body(), timeout=30))

    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")  # the file's write lock, as another process would
    try:
        waiting = threading.Thread(target=post)
        waiting.start()
        waiting.join(timeout=1)
        # The call waits for the lock; the server does not: it answers reads and probes.
        assert waiting.is_alive() and not answers
        assert httpx.get(f"{agency.server.url}/healthz", timeout=5).status_code == 200
        listed = dispatcher.get("/v1/responders", timeout=5)
        assert listed.status_code == 200 and len(listed.json()) == 1
        assert waiting.is_alive() and not answers
    finally:
        holder.execute("COMMIT")
        holder.close()
    waiting.join(timeout=30)
    cad.close()
    assert [a.status_code for a in answers] == [201]
    assert answers[0].json()["assignments"], "the call waited, then was dispatched"
