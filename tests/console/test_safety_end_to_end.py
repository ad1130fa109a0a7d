"""A responder in trouble is seen at once by everyone who can help, every page a real
browser: a clinician on a 360-pixel phone holds SOS, every dispatcher's board shows the
alarm, and the nearest available CIT officer's own phone shows the backup offer (not the
farther one's). How fast is measured in bench/emergency.py, not here."""

import re
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, ViewportSize, expect

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.console.test_board import open_board, unit
from tests.console.test_responder_phone import assert_fits_the_phone, sign_in
from tests.service.factories import NEXT_YEAR, north_of

Unit = dict[str, Any]  # a responder as the API answers it
NARROW_PHONE: ViewportSize = {"width": 360, "height": 740}


def phone(browser: Browser, agency: AgencyKit, responder_id: str) -> Page:
    context = browser.new_context(viewport=NARROW_PHONE, is_mobile=True, has_touch=True)
    token = agency.token(Role.responder, responder_id=responder_id)
    return sign_in(context, agency.server.url, token)


def hold(page: Page, selector: str) -> None:
    """Press and keep holding, as a finger would, until the page says help is coming."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(page.locator("#help-coming")).to_contain_text("Help is coming", timeout=10_000)
    page.mouse.up()


def crew(agency: AgencyKit, dispatcher: httpx.Client) -> tuple[Unit, Unit, Unit]:
    """An agency that sends one backup officer to an emergency, a clinician, and two CIT
    officers: Lee Grant 700 m north, Sam Ortiz 4 km north."""
    with agency.client(Role.admin) as admin:
        assert admin.patch("/v1/agency", json={"emergency_backup_count": 1}).status_code == 200
    clinician = unit(dispatcher, kind="clinician", name="Dana Ruiz", external_id="unit-214")
    near = unit(
        dispatcher,
        kind="officer",
        name="Lee Grant",
        external_id="unit-301",
        at=north_of(700),
        cit_until=NEXT_YEAR,
    )
    far = unit(
        dispatcher,
        kind="officer",
        name="Sam Ortiz",
        external_id="unit-377",
        at=north_of(4000),
        cit_until=NEXT_YEAR,
    )
    return clinician, near, far


def test_sos_on_a_phone_alarms_every_board_and_offers_the_nearest_cit_officer_backup(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician, near, far = crew(agency, dispatcher)
    boards = [
        open_board(browser, agency.server.url, agency.token(Role.dispatcher)) for _ in range(2)
    ]
    in_trouble = phone(browser, agency, clinician["id"])
    near_car, far_car = (phone(browser, agency, officer["id"]) for officer in (near, far))
    assert_fits_the_phone(in_trouble)

    hold(in_trouble, "#sos")

    for board in boards:
        alarm = board.locator("#emergencies .alarm")
        expect(alarm).to_contain_text("EMERGENCY")
        expect(alarm).to_contain_text("Dana Ruiz (unit-214)")
        expect(alarm).to_contain_text("Lee Grant (unit-301)")
    offer = near_car.locator("[data-offer]")
    expect(offer).to_contain_text("Backup: a responder on this call raised an emergency")
    expect(offer).to_have_class(re.compile(r"\bbackup\b"))
    expect(far_car.locator("#no-offers")).to_be_visible()
    # Backup is offered in the raising write: by now the farther officer would hold one.
    statuses = {
        r: dispatcher.get(f"/v1/responders/{r}").json()["status"] for r in (near["id"], far["id"])
    }
    assert statuses == {near["id"]: "offered", far["id"]: "available"}
    assert_fits_the_phone(in_trouble)
