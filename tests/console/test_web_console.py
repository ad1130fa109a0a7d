"""The web console in a real browser: a dispatcher flags a call, a clinician's page shows
the offer, the clinician accepts, the dispatcher sees it; and a page that outlives a
server restart catches up on what it missed without a reload."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, expect

from models.vocabulary import Role
from service.agencies.operations import create_agency
from tests.conftest import AgencyKit, start_server, stop_server
from tests.console.conftest import open_console
from tests.service.factories import NEXT_YEAR, call_body, north_of, responder


def test_a_flagged_call_is_offered_accepted_and_seen_accepted_live(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    responder(dispatcher, kind="clinician", name="Sam Okafor", at=north_of(4000))
    responder(dispatcher, kind="officer", name="Ofc. Lee", cit_until=NEXT_YEAR, at=north_of(-2500))
    desk = open_console(browser, agency.server.url, agency.token(Role.dispatcher))
    phone = open_console(
        browser, agency.server.url, agency.token(Role.responder, responder_id=clinician["id"])
    )
    expect(phone.locator("#my-status")).to_have_text("available")
    expect(desk.locator("#board tbody tr")).to_have_count(3)

    desk.get_by_label("Latitude").fill("40.1215")
    desk.get_by_label("Longitude").fill("-75.3399")
    desk.get_by_label("Address").fill("1 Main St, Norristown")
    desk.get_by_label("Category").select_option("suicidal_ideation")
    desk.get_by_label("Narrative").fill("Caller's son says he wants to end his life.")
    desk.get_by_role("button", name="Dispatch").click()
    expect(desk.locator("#call-result")).to_contain_text("Offered: clinician to Dana Ruiz")
    desk.screenshot(path=artifacts / "dispatcher-view.png", full_page=True)

    offer = phone.locator("[data-offer]")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("suicidal ideation")
    expect(offer).to_contain_text("1 Main St, Norristown")
    # what made the ETA is said: with no road network, a straight line
    expect(offer.locator(".travel")).to_have_text(
        re.compile(r"^\d+\.\d km away · ETA \d+ min · as ")
    )
    expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d+ s$"))
    phone.screenshot(path=artifacts / "responder-offer.png", full_page=True)
    offer.get_by_role("button", name="Accept").click()

    work = phone.locator("[data-work]")
    expect(work).to_contain_text("accepted")
    expect(work).to_contain_text("wants to end his life")  # the narrative, once accepted
    expect(desk.locator("#active")).to_contain_text("Dana Ruiz — accepted")
    phone.get_by_role("button", name="En route").click()
    expect(work).to_contain_text("en route")
    expect(desk.locator("#active")).to_contain_text("Dana Ruiz — en route")
    phone.screenshot(path=artifacts / "responder-assignment.png", full_page=True)
    desk.screenshot(path=artifacts / "dispatcher-accepted.png", full_page=True)


def test_a_bad_token_is_refused_at_sign_in(browser: Browser, agency: AgencyKit) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{agency.server.url}/console")
    page.get_by_label("Token").fill("cr_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_contain_text("unknown, revoked or expired")
    expect(page.locator("#dispatcher")).to_be_hidden()


def test_the_page_reconnects_after_a_restart_and_shows_what_it_missed(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    server = start_server(tmp_path)
    try:
        created = server.uow.write_sync(create_agency, slug="restart")
        kit = AgencyKit(server=server, slug="restart", id=created.id)
        page = open_console(browser, server.url, kit.token(Role.dispatcher))
        port = urlsplit(server.url).port
        stop_server(server)
        expect(page.locator("#connection")).to_contain_text("Reconnecting")
        server = start_server(tmp_path, port=port)
        kit = AgencyKit(server=server, slug="restart", id=created.id)
        addresses = [f"{n} Missed St" for n in range(1, 4)]
        with kit.client(Role.cad) as cad:
            for address in addresses:
                body = {
                    "location": {"lat": 40.12, "lon": -75.34, "address": address},
                    "category": "welfare_check",
                    "priority": 3,
                }
                assert cad.post("/v1/calls", json=body).status_code == 201
        expect(page.locator("#connection")).to_have_text("Live", timeout=30_000)
        for address in addresses:
            expect(page.locator("#events")).to_contain_text(address)
        expect(page.locator("#queue li")).to_have_count(3)
        page.screenshot(path=artifacts / "dispatcher-after-restart.png", full_page=True)
    finally:
        stop_server(server)


def test_the_queue_shows_each_calls_rule_what_it_waits_for_and_when_it_falls_back(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    with agency.client(Role.supervisor) as supervisor:
        document = {
            "timezone": "UTC",
            "teams": {
                "heart": {"seats": [{"kind": "clinician"}, {"kind": "medic"}]},
                "clinician": {"seats": [{"kind": "clinician"}]},
            },
            "rules": [
                {
                    "name": "HEART",
                    "when": {"categories": ["welfare_check"]},
                    "send": "heart",
                    "fallback": [{"after_s": 3600, "send": "clinician"}],
                },
                {"name": "anything else", "send": "clinician"},
            ],
        }
        assert supervisor.put("/v1/rules", json=document).status_code == 200
    responder(dispatcher, kind="clinician", name="Dana Ruiz")
    responder(dispatcher, kind="clinician", name="Sam Okafor", at=north_of(3000))
    responder(dispatcher, kind="medic", name="Kim Park")
    # A first HEART call takes the only medic, who stays on duty: the next one waits.
    first = {
        "location": {"lat": 40.1215, "lon": -75.3399, "address": "1 Main St"},
        "category": "welfare_check",
        "priority": 2,
    }
    assert dispatcher.post("/v1/calls", json=first).json()["plan"]["missing"] == []
    desk = open_console(browser, agency.server.url, agency.token(Role.dispatcher))
    expect(desk.locator("#board tbody tr")).to_have_count(3)
    desk.get_by_label("Latitude").fill("40.1215")
    desk.get_by_label("Longitude").fill("-75.3399")
    desk.get_by_label("Address").fill("2 Elm St")
    desk.get_by_label("Category").select_option("welfare_check")
    desk.get_by_role("button", name="Dispatch").click()
    queued = desk.locator("#queue li", has_text="2 Elm St")
    expect(queued).to_contain_text("rule HEART")
    expect(queued.locator(".missing")).to_have_text("medic")
    expect(queued.locator(".fallback")).to_have_text(
        re.compile(r"^falls back to clinician in 59 min \d+ s \([0-2]\d:[0-5]\d\)$")
    )
    desk.screenshot(path=artifacts / "dispatcher-queue-fallback.png", full_page=True)


def test_the_dispatcher_sees_a_call_has_been_seen_before(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """Two earlier calls about the same person, one at the same place: the board says so."""
    person = {"cad_person_id": "P-1207"}
    body = call_body(person=person)
    assert dispatcher.post("/v1/calls", json=body).status_code == 201
    elsewhere = call_body(at=north_of(5_000), person=person)
    assert dispatcher.post("/v1/calls", json=elsewhere).status_code == 201
    third = dispatcher.post("/v1/calls", json=call_body(person=person))
    assert third.status_code == 201
    desk = open_console(browser, agency.server.url, agency.token(Role.dispatcher))
    waiting = desk.locator(f'#queue [data-call="{third.json()["id"]}"]')
    expect(waiting).to_contain_text("2 contacts in 90 days at this person; 1 at this place")
