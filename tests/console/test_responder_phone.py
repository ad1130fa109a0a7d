"""The responder's console as a phone app, in Chromium at 390 by 844 px: it fits the screen
with finger-sized controls, installs (manifest, icons, a service worker) and opens with
no connection, keeps status steps made offline and sends each once, reports position
only with consent, raises an emergency only when held, and prompts for check-ins.

Screenshots go to test-artifacts/; with CORESPOND_DOCS_SCREENSHOTS=1 the responder's
views also replace docs/console-responder-*.png."""

import os
import re
import shutil
import struct
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Route, ViewportSize, expect
from sqlalchemy import select
from sqlmodel import col

from models.event import Event
from models.vocabulary import Role
from service.agencies.operations import create_agency
from service.store.transaction import Tx
from tests.conftest import AgencyKit, start_server, stop_server
from tests.console.conftest import HeldAnswer
from tests.service.factories import NEXT_YEAR, call_body, north_of, responder

PHONE: ViewportSize = {"width": 390, "height": 844}
DOCS = Path(__file__).resolve().parents[2] / "docs"


def phone_context(browser: Browser, **options: Any) -> BrowserContext:
    return browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, **options
    )


def sign_in(context: BrowserContext, base_url: str, token: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/console")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def on_phone(browser: Browser, agency: AgencyKit, responder_id: str, **options: Any) -> Page:
    token = agency.token(Role.responder, responder_id=responder_id)
    return sign_in(phone_context(browser, **options), agency.server.url, token)


def keep_screenshot(page: Page, artifacts: Path, name: str) -> None:
    """Into test-artifacts/; the docs' pictures (console-*) also into docs/ when asked."""
    shot = artifacts / f"{name}.png"
    page.screenshot(path=shot)
    if name.startswith("console-") and os.environ.get("CORESPOND_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(shot, DOCS / f"{name}.png")


def assert_fits_the_phone(page: Page) -> None:
    """No sideways scroll, and every control shown is at least 44 px tall."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]"
    )
    assert max(widths[:2]) <= widths[2], widths
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, select, input:not([type=checkbox])')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => [e.textContent.trim() || e.getAttribute('aria-label') || e.className,
                         e.getBoundingClientRect().height])
            .filter(([, height]) => height < 44)"""
    )
    assert small == [], small


def offer_to(dispatcher: httpx.Client, **call: Any) -> dict[str, Any]:
    posted = dispatcher.post("/v1/calls", json=call_body(**call))
    assert posted.status_code == 201, posted.text
    created: dict[str, Any] = posted.json()
    return created


def events_of(agency: AgencyKit, kind: str, assignment_id: str) -> list[Event]:
    def read(tx: Tx) -> list[Event]:
        rows = tx.session.scalars(
            select(Event).where(
                col(Event.agency_id) == agency.id,
                col(Event.type) == kind,
                col(Event.assignment_id) == uuid.UUID(assignment_id),
            )
        )
        return list(rows)

    return agency.server.uow.read_sync(read)


def test_the_phone_page_fits_390_px_with_finger_sized_controls(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    responder(dispatcher, kind="officer", name="Ofc. Lee", at=north_of(-2500))
    phone = on_phone(browser, agency, clinician["id"])
    # What the page asks the phone to do: vibrate (Chromium on a desktop has no motor).
    phone.evaluate("navigator.vibrate = (p) => (window.buzzed = p, true)")
    expect(phone.locator("#my-status")).to_have_text("available")
    expect(phone.get_by_role("button", name="Hold for help (SOS)")).to_be_visible()
    expect(phone.locator("#responder")).to_have_attribute("data-awake", "no")
    assert_fits_the_phone(phone)

    offer_to(
        dispatcher,
        category="suicidal_ideation",
        address="1207 West Marshall Street, Norristown",
        narrative="Caller's son says he wants to end his life.",
    )
    offer = phone.locator("[data-offer]")
    expect(offer).to_contain_text("suicidal ideation")
    # The screen is kept on while an offer is open, and the phone buzzes.
    expect(phone.locator("#responder")).to_have_attribute("data-awake", "held")
    assert phone.evaluate("window.buzzed") == [400, 200, 400]
    assert_fits_the_phone(phone)
    keep_screenshot(phone, artifacts, "console-responder-offer")

    offer.get_by_role("button", name="Accept").click()
    work = phone.locator("[data-work]")
    expect(work).to_contain_text("accepted")
    phone.get_by_role("button", name="En route").click()
    expect(work).to_contain_text("en route")
    assert_fits_the_phone(phone)
    keep_screenshot(phone, artifacts, "responder-phone-en-route")


def test_the_console_installs_and_opens_with_no_connection(
    browser: Browser, tmp_path: Path
) -> None:
    server = start_server(tmp_path)
    try:
        manifest = httpx.get(f"{server.url}/console/manifest.webmanifest").json()
        assert manifest["start_url"] == "/console" and manifest["scope"] == "/console"
        for size in (192, 512):
            [icon] = [
                i
                for i in manifest["icons"]
                if i["sizes"] == f"{size}x{size}" and i["purpose"] == "any"
            ]
            png = httpx.get(f"{server.url}{icon['src']}")
            assert png.headers["content-type"] == "image/png"
            assert struct.unpack(">II", png.content[16:24]) == (size, size)
        worker = httpx.get(f"{server.url}/console/sw.js")
        assert worker.headers["service-worker-allowed"] == "/console"

        created = server.uow.write_sync(create_agency, slug="installs")
        kit = AgencyKit(server=server, slug="installs", id=created.id)
        page = sign_in(phone_context(browser), server.url, kit.token(Role.dispatcher))
        scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
        assert scope == f"{server.url}/console"
        # The worker takes the page at once, having kept its files on installing.
        page.wait_for_function("Boolean(navigator.serviceWorker.controller)")

        stop_server(server)
        page.reload()
        expect(page.get_by_role("heading", name="CoRespond")).to_be_visible()
        header = page.locator("header")
        expect(header).to_have_css("background-color", "rgb(27, 36, 48)")  # its styles
        expect(page.locator("#connection")).to_contain_text("Reconnecting")  # its scripts
        expect(page.locator("#dispatcher")).to_be_hidden()  # nothing the API said was kept
    finally:
        stop_server(server)


def test_a_step_made_offline_waits_and_arrives_once(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    call = offer_to(dispatcher, address="1 Main St, Norristown")
    aid = call["assignments"][0]["id"]
    assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200
    assert (
        dispatcher.post(f"/v1/assignments/{aid}/status", json={"status": "en_route"}).status_code
        == 200
    )
    phone = on_phone(browser, agency, clinician["id"])
    work = phone.locator("[data-work]")
    expect(work).to_contain_text("en route")

    phone.context.set_offline(True)
    work.get_by_role("button", name="On scene").click()
    expect(phone.locator("#outbox")).to_contain_text("On scene")
    expect(work).to_contain_text("on scene (waiting to send)")
    keep_screenshot(phone, artifacts, "responder-offline-waiting")
    assert dispatcher.get(f"/v1/assignments/{aid}").json()["state"] == "en_route"

    # Back online, the first try reaches the server but its answer is lost on the way
    # back: the page must send the same step again, and the server act on it once.
    keys: list[str] = []

    def lose_the_answer(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            assert route.fetch().status == 200  # done on the server...
            route.abort()  # ...and the page never hears so
        else:
            route.continue_()

    phone.route(f"**/v1/assignments/{aid}/status", lose_the_answer)
    phone.context.set_offline(False)
    expect(work).to_contain_text("on scene for")
    expect(phone.locator("#outbox-panel")).to_be_hidden()
    assert len(keys) == 2 and keys[0] == keys[1], keys  # sent again, as the same step
    assert dispatcher.get(f"/v1/assignments/{aid}").json()["state"] == "on_scene"
    assert len(events_of(agency, "assignment.on_scene", aid)) == 1


def test_position_is_reported_only_after_the_responder_switches_it_on(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=None)
    here = {"latitude": 40.1301, "longitude": -75.3502}
    phone = on_phone(
        browser, agency, clinician["id"], geolocation=here, permissions=["geolocation"]
    )
    switch = phone.get_by_role("switch", name="Share my position")
    expect(switch).to_have_attribute("aria-checked", "false")
    assert dispatcher.get(f"/v1/responders/{clinician['id']}").json()["position"] is None

    switch.click()
    expect(phone.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    reported = poll(lambda: dispatcher.get(f"/v1/responders/{clinician['id']}").json()["position"])
    assert (reported["lat"], reported["lon"]) == (here["latitude"], here["longitude"])

    # The choice is the device's: a new page on it starts with sharing on.
    again = phone.context.new_page()
    again.goto(f"{agency.server.url}/console")
    again.get_by_label("Token").fill(agency.token(Role.responder, responder_id=clinician["id"]))
    again.get_by_role("button", name="Sign in").click()
    expect(again.get_by_role("switch")).to_have_attribute("aria-checked", "true")


def poll(read: Callable[[], Any], *, within_s: float = 10) -> Any:
    """What `read` returns once it is something (the server is asked, not the page)."""
    deadline = time.monotonic() + within_s
    while not (value := read()):
        assert time.monotonic() < deadline, "nothing came"
        time.sleep(0.1)
    return value


def test_the_emergency_button_raises_when_held_and_not_on_a_click(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    with agency.client(Role.admin) as admin:
        assert admin.patch("/v1/agency", json={"emergency_backup_count": 1}).status_code == 200
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    responder(dispatcher, kind="officer", name="Ofc. Lee", cit_until=NEXT_YEAR, at=north_of(800))
    call = offer_to(dispatcher, address="1207 West Marshall Street, Norristown")
    aid = call["assignments"][0]["id"]
    assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200
    phone = on_phone(browser, agency, clinician["id"])
    sos = phone.locator("#sos")  # its name says "Keep holding…" while held
    expect(sos).to_have_accessible_name("Hold for help (SOS)")
    help_coming = phone.locator("#help-coming")

    sos.click()
    phone.wait_for_timeout(2500)  # longer than a hold: a click must still not raise
    expect(help_coming).to_be_hidden()
    assert dispatcher.get("/v1/emergencies", params={"open": "true"}).json() == []

    box = sos.bounding_box()
    assert box is not None
    phone.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    phone.mouse.down()
    expect(sos).to_have_class(re.compile(r"\bholding\b"))  # the progress fills
    expect(help_coming).to_contain_text("Help is coming", timeout=10_000)
    phone.mouse.up()
    [raised] = dispatcher.get("/v1/emergencies", params={"open": "true"}).json()
    assert raised["responder"]["id"] == clinician["id"] and raised["call_id"] == call["id"]
    expect(help_coming).to_contain_text("1 backup officer has been offered your call")
    keep_screenshot(phone, artifacts, "console-responder-emergency")

    closed = dispatcher.post(f"/v1/emergencies/{raised['id']}/close")
    assert closed.status_code == 200, closed.text
    expect(help_coming).to_be_hidden()

    # By keyboard: Space held down raises; a tap of it does not.
    sos.focus()
    phone.keyboard.press("Space")
    phone.wait_for_timeout(2500)
    expect(help_coming).to_be_hidden()
    phone.keyboard.down("Space")
    expect(help_coming).to_contain_text("Help is coming", timeout=10_000)
    phone.keyboard.up("Space")
    emergencies = dispatcher.get("/v1/emergencies").json()
    assert len(emergencies) == 2 and emergencies[0]["closed_at"] is None


def test_an_emergency_held_with_no_connection_goes_out_when_it_returns(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    phone = on_phone(browser, agency, clinician["id"])
    help_coming = phone.locator("#help-coming")
    phone.context.set_offline(True)
    phone.locator("#sos").focus()
    phone.keyboard.down("Enter")
    expect(help_coming).to_contain_text("Not sent yet", timeout=10_000)
    expect(help_coming).to_contain_text("Use your radio")
    phone.keyboard.up("Enter")
    assert dispatcher.get("/v1/emergencies").json() == []

    phone.context.set_offline(False)
    expect(help_coming).to_contain_text("Help is coming", timeout=10_000)
    [raised] = dispatcher.get("/v1/emergencies").json()
    assert raised["responder"]["id"] == clinician["id"] and raised["call_made"]


def test_an_emergency_raised_while_the_phone_asks_for_it_is_not_called_off(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """On sign-in the phone asks which of its emergencies are open. An answer the server
    gave before the emergency was raised must not tell the responder it is over."""
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    context = phone_context(browser)
    held = HeldAnswer(context, "**/v1/emergencies?open=true")
    token = agency.token(Role.responder, responder_id=clinician["id"])
    phone = sign_in(context, agency.server.url, token)
    help_coming = phone.locator("#help-coming")
    expect(help_coming).to_have_attribute("aria-busy", "true")
    held.wait(phone)

    with agency.client(Role.responder, responder_id=clinician["id"]) as api:
        raised = api.post(f"/v1/responders/{clinician['id']}/emergency", json={})
        assert raised.status_code == 201, raised.text
    expect(help_coming).to_contain_text("Help is coming")
    assert held.wait(phone).json() == [], "the held answer was read before the emergency"
    held.give()
    expect(help_coming).not_to_have_attribute("aria-busy", "true")
    expect(help_coming).to_contain_text("Help is coming")
    expect(phone.locator("#events")).not_to_contain_text("Emergency closed")


def test_a_check_in_prompt_is_answered_with_im_ok(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    with agency.client(Role.admin) as admin:
        settings = {"checkin_interval_s": 5, "checkin_grace_s": 600}
        assert admin.patch("/v1/agency", json=settings).status_code == 200
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    call = offer_to(
        dispatcher,
        category="mental_health_crisis",
        address="1207 West Marshall Street, Norristown",
        narrative="Neighbour reports shouting; the caller's brother has not slept in days.",
    )
    aid = call["assignments"][0]["id"]
    assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200
    phone = on_phone(browser, agency, clinician["id"])
    work = phone.locator("[data-work]")
    work.get_by_role("button", name="En route").click()
    expect(work).to_contain_text("en route for")
    work.get_by_role("button", name="On scene").click()
    expect(work).to_contain_text("on scene for")

    prompt = work.locator(".checkin-due")
    expect(prompt).to_contain_text("are you OK?", timeout=30_000)
    assert_fits_the_phone(phone)
    keep_screenshot(phone, artifacts, "console-responder-assignment")
    prompt.get_by_role("button", name="I'm OK").click()
    expect(prompt).to_be_hidden()
    [done] = events_of(agency, "checkin.done", aid)
    assert done.data["checkin"]["responder_id"] == clinician["id"]
