"""An open emergency's backup changes (an officer declined, the next nearest is offered
it): the board's alarm and the raiser's banner say so in place, without a second alarm
sound."""

import httpx
from playwright.sync_api import Browser, expect

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.console.test_board import open_board
from tests.console.test_responder_phone import offer_to, on_phone
from tests.console.test_safety_end_to_end import crew

# Each alarm sound makes an AudioContext (alarms.js): counted here, and kept silent.
COUNT_SOUNDS = """() => {
    window.sounds = 0;
    window.AudioContext = class { constructor() { window.sounds += 1; throw new Error("muted"); } };
}"""


def test_backup_offered_again_shows_on_the_alarm_and_the_banner_without_a_second_sound(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician, near, _ = crew(agency, dispatcher)
    call = offer_to(dispatcher, address="9 Oak Ave, Norristown")
    with agency.client(Role.responder, responder_id=clinician["id"]) as api:
        aid = call["assignments"][0]["id"]
        assert api.post(f"/v1/assignments/{aid}/accept").status_code == 200
    desk = open_board(browser, agency.server.url, agency.token(Role.dispatcher))
    desk.evaluate(COUNT_SOUNDS)
    phone = on_phone(browser, agency, clinician["id"])
    banner = phone.locator("#help-coming")

    with agency.client(Role.responder, responder_id=clinician["id"]) as api:
        raised = api.post(f"/v1/responders/{clinician['id']}/emergency", json={})
        assert raised.status_code == 201, raised.text
    alarm = desk.locator("#emergencies .alarm")
    expect(alarm).to_contain_text("backup: Lee Grant (unit-301) (offered)")
    expect(banner).to_contain_text("1 backup officer has been offered your call")
    assert desk.evaluate("window.sounds") == 1

    [first_backup] = raised.json()["backup"]
    with agency.client(Role.responder, responder_id=near["id"]) as lee:
        assert lee.post(f"/v1/assignments/{first_backup}/decline").status_code == 200
    expect(alarm).to_contain_text("Sam Ortiz (unit-377) (offered)", timeout=15_000)
    expect(alarm).to_contain_text("Lee Grant (unit-301) (declined)")
    expect(alarm).to_have_count(1)
    expect(banner).to_contain_text("2 backup officers have been offered your call")
    assert desk.evaluate("window.sounds") == 1
