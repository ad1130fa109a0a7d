"""The terminal console's safety lines (issue 23): the check-in prompt shows as a line,
`ok` answers it; a backup offer says why it is made."""

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col

from models.agency import Agency
from models.vocabulary import Role
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.console.test_terminal_console import Terminal
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def _check_in_every(kit: AgencyKit, seconds: int) -> None:
    """Shorter than an agency may choose (5 s), so the prompt comes in a test's time."""

    def shorten(tx: Tx) -> None:
        tx.session.execute(
            update(Agency).where(col(Agency.id) == kit.id).values(checkin_interval_s=seconds)
        )

    kit.server.uow.write_sync(shorten)


def test_a_clinician_on_scene_sees_the_prompt_and_checks_in_with_ok(
    agency: AgencyKit, dispatcher: httpx.Client, terminals: list[Terminal]
) -> None:
    _check_in_every(agency, 2)
    clinician = responder(dispatcher, kind="clinician")
    terminal = Terminal(agency.server, agency.token(Role.responder, responder_id=clinician["id"]))
    terminals.append(terminal)
    terminal.wait_for(r"connected as responder")
    call = post_call(dispatcher, category="welfare_check")
    assignment = call["assignments"][0]["id"]
    terminal.wait_for(r"OFFER \w{8} as clinician")
    terminal.type("ok")  # not on scene yet: nothing to check in
    terminal.wait_for(r"0 assignments open fit")
    for command, state in (
        ("accept", "accepted"),
        ("enroute", "en_route"),
        ("onscene", "on_scene"),
    ):
        terminal.type(command)
        terminal.wait_for(rf"ok: \w+ \w{{8}} → {state}")

    prompt = terminal.wait_for(r"CHECK IN NOW on (\w{8}) \(by \d\d:\d\d:\d\d\) → ok")
    assert assignment.startswith(prompt.group(1))
    terminal.type("ok")

    terminal.wait_for(rf"ok: checked in {prompt.group(1)}; next due \d\d:\d\d:\d\d")
    # The event and the answer race each other to the terminal; both come.
    if not any(
        line.endswith(f"checked in on {prompt.group(1)} by responder") for line in terminal.seen
    ):
        terminal.wait_for(rf"checked in on {prompt.group(1)} by responder")
    with agency.client(Role.dispatcher) as desk:
        listed = desk.get("/v1/checkins", params={"open": "true"}).json()
    assert all(c["checkin"]["state"] == "due" for c in listed)
    assert terminal.close() == 0


def test_a_backup_offer_says_a_responder_on_the_call_raised_an_emergency(
    agency: AgencyKit, dispatcher: httpx.Client, terminals: list[Terminal]
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    call = post_call(dispatcher, category="welfare_check")
    (seat,) = call["assignments"]
    assert dispatcher.post(f"/v1/assignments/{seat['id']}/accept").status_code == 200
    on_scene = {"status": "on_scene"}
    assert dispatcher.post(f"/v1/assignments/{seat['id']}/status", json=on_scene).status_code == 200
    officer = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)
    terminal = Terminal(agency.server, agency.token(Role.responder, responder_id=officer["id"]))
    terminals.append(terminal)
    terminal.wait_for(r"connected as responder")

    raised = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency")
    assert raised.status_code == 201, raised.text
    terminal.wait_for(
        r"OFFER \w{8} as backup on team clinician · "
        r"BACKUP: a responder on this call raised an emergency · "
    )
