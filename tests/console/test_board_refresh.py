"""The board's refreshes overlap (every event sets one off, and the 30 s timer, a
reconnect and a resync too), and a slow one also re-reads the calls closed this shift
and the alarms: an answer older than one already drawn must not take back what the
newer one showed. And more calls wait than one page holds: every page is read."""

from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.console.conftest import HeldAnswer
from tests.console.test_board import open_board
from tests.service.factories import NORRISTOWN


def new_call(dispatcher: httpx.Client, address: str) -> dict[str, Any]:
    """A call no one is free for: it waits on the board."""
    made = dispatcher.post(
        "/v1/calls",
        json={
            "location": {"lat": NORRISTOWN[0], "lon": NORRISTOWN[1], "address": address},
            "category": "welfare_check",
            "priority": 2,
        },
    )
    assert made.status_code == 201, made.text
    call: dict[str, Any] = made.json()
    return call


def test_a_new_call_stays_on_the_board_when_an_older_refresh_answers_after_it(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    stood_down = new_call(dispatcher, "4 Elm St")
    desk = open_board(browser, agency.server.url, agency.token(Role.dispatcher))
    waiting = desk.locator("#queue")
    expect(waiting).to_contain_text("4 Elm St")

    # A cancelled call makes the next refresh a slow one (it re-reads the closed calls);
    # its read of the open calls is answered now and reaches the page late.
    held = HeldAnswer(desk, "**/v1/calls?status=pending&limit=500")
    cancelled = dispatcher.post(f"/v1/calls/{stood_down['id']}/cancel", json={"reason": "fine"})
    assert cancelled.status_code == 200, cancelled.text
    held.wait(desk)
    new_call(dispatcher, "9 Oak Ave")
    expect(waiting).to_contain_text("9 Oak Ave")  # a newer refresh, answered at once

    held.give()
    expect(desk.locator("#closed")).to_contain_text("4 Elm St")  # the slow one's own read
    desk.wait_for_timeout(1000)  # time for the old answer to be drawn, were it drawn
    expect(waiting).to_contain_text("9 Oak Ave")
    expect(desk.locator("#queue-count")).to_have_text("1")


def test_every_waiting_call_is_on_the_board_past_a_page_of_them(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """More calls wait than the API answers in one page (500): the board reads every
    page, and the first call, waiting longest, is still there."""
    first = new_call(dispatcher, "1 First Street")
    for n in range(500):
        new_call(dispatcher, f"{n} Later Lane")
    desk = open_board(browser, agency.server.url, agency.token(Role.dispatcher))
    expect(desk.locator("#queue-count")).to_have_text("501")
    expect(desk.locator("#queue")).to_contain_text("1 First Street")
    assert first["status"] == "pending"
