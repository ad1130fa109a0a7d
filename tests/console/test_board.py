"""The dispatcher's board in a real browser, at 1366x900: a map whose markers say who is
who, a click that places a call, alarms for an emergency and a missed check-in that stay
until someone deals with them, names told apart by their unit, and calls closed this
shift with their timelines, in 24-hour time.

Screenshots go to test-artifacts/; with CORESPOND_DOCS_SCREENSHOTS=1 the board's also
replace docs/console-dispatcher*.png."""

import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from models.vocabulary import Role
from tests.conftest import AgencyKit, free_port, new_agency, start_server, stop_server
from tests.console.conftest import HeldAnswer
from tests.service.factories import NEXT_YEAR, NORRISTOWN, north_of

DOCS = Path(__file__).resolve().parents[2] / "docs"
TIME_24H = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")

DOWNTOWN = {
    "type": "Polygon",
    "coordinates": [
        [[-75.36, 40.10], [-75.32, 40.10], [-75.32, 40.14], [-75.36, 40.14], [-75.36, 40.10]]
    ],
}


def unit(
    client: httpx.Client,
    *,
    kind: str,
    name: str,
    external_id: str,
    at: tuple[float, float] = NORRISTOWN,
    status: str = "available",
    cit_until: str | None = None,
) -> dict[str, Any]:
    """A responder with a unit or call sign, placed and on duty, as a dispatcher adds one."""
    body: dict[str, Any] = {"kind": kind, "name": name, "external_id": external_id}
    if cit_until is not None:
        body["cit_certified_until"] = cit_until
    created = client.post("/v1/responders", json=body)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    moved = client.put(f"/v1/responders/{rid}/position", json={"lat": at[0], "lon": at[1]})
    assert moved.status_code == 200, moved.text
    if status != "off_duty":
        changed = client.put(f"/v1/responders/{rid}/status", json={"status": status})
        assert changed.status_code == 200, changed.text
    result: dict[str, Any] = client.get(f"/v1/responders/{rid}").json()
    return result


def open_board(browser: Browser, base_url: str, token: str) -> Page:
    """A dispatcher's page at a desk's 1366x900, signed in and live."""
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{base_url}/console")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def screenshot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=artifacts / name)
    if os.environ.get("CORESPOND_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(artifacts / name, DOCS / name)


def board_call(
    dispatcher: httpx.Client, address: str, category: str, priority: int
) -> httpx.Response:
    """A call at `address` in Norristown, made (201) by the desk."""
    made = dispatcher.post(
        "/v1/calls",
        json={
            "location": {"lat": NORRISTOWN[0], "lon": NORRISTOWN[1], "address": address},
            "category": category,
            "priority": priority,
        },
    )
    assert made.status_code == 201, made.text
    return made


def test_markers_say_kind_status_and_unit_and_a_click_on_the_map_places_the_call(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    with agency.client(Role.supervisor) as supervisor:
        programme = {
            "timezone": "UTC",
            "kinds": ["navigator"],
            "areas": {"downtown": DOWNTOWN},
            "teams": {"clinician": {"seats": [{"kind": "clinician"}]}},
            "rules": [{"name": "anything", "send": "clinician"}],
        }
        assert supervisor.put("/v1/rules", json=programme).status_code == 200
    unit(dispatcher, kind="officer", name="Dana Ruiz", external_id="unit-214", cit_until=NEXT_YEAR)
    unit(dispatcher, kind="clinician", name="Riley Adeyemi", external_id="CL-7", at=north_of(900))
    unit(
        dispatcher,
        kind="clinician",
        name="Riley Adeyemi",
        external_id="CL-9",
        at=north_of(-900),
        status="off_duty",
    )
    unit(dispatcher, kind="peer", name="Sam Okafor", external_id="PS-2", at=north_of(1500))
    unit(dispatcher, kind="medic", name="Kim Park", external_id="M-31", at=north_of(-1500))
    unit(dispatcher, kind="navigator", name="Lou Chan", external_id="NAV-1", at=north_of(2200))
    desk = open_board(browser, agency.server.url, agency.token(Role.dispatcher))

    officer = desk.locator(".responder-marker.kind-officer.status-available")
    expect(officer).to_have_attribute("title", "Officer Dana Ruiz (unit-214), available")
    expect(desk.locator(".responder-marker.kind-clinician")).to_have_count(2)
    expect(
        desk.locator(
            '.kind-clinician.status-off_duty[title="Clinician Riley Adeyemi (CL-9), off duty"]'
        )
    ).to_have_count(1)
    expect(desk.locator(".responder-marker.kind-peer")).to_have_attribute(
        "title", "Peer Sam Okafor (PS-2), available"
    )
    expect(desk.locator(".responder-marker.kind-medic")).to_have_count(1)
    expect(desk.locator(".responder-marker.kind-other.kind-navigator")).to_have_count(1)
    # The same name twice, told apart by the unit wherever it shows.
    expect(desk.locator("#board tbody")).to_contain_text("Riley Adeyemi (CL-7)")
    expect(desk.locator("#board tbody")).to_contain_text("Riley Adeyemi (CL-9)")
    # The roster: searched by unit, filtered by kind and status, folded away.
    desk.get_by_label("Search").fill("cl-9")
    expect(desk.locator("#board tbody tr")).to_have_count(1)
    desk.get_by_label("Search").fill("")
    desk.get_by_label("Kind", exact=True).select_option("medic")
    expect(desk.locator("#board tbody tr")).to_have_text(re.compile("Kim Park \\(M-31\\)"))
    desk.get_by_label("Kind", exact=True).select_option("")
    desk.get_by_label("Status", exact=True).select_option("off_duty")
    expect(desk.locator("#board tbody tr")).to_have_count(1)
    desk.get_by_label("Status", exact=True).select_option("")
    expect(desk.locator("#board tbody tr")).to_have_count(6)
    desk.locator("#roster summary").click()
    expect(desk.locator("#board")).to_be_hidden()
    # No tiles configured: the agency's service area and a scale make the base.
    expect(desk.locator("path.service-area")).to_have_count(1)
    expect(desk.locator(".area-label")).to_have_text("downtown")
    expect(desk.locator(".leaflet-control-scale")).to_be_visible()
    zoom_in = desk.get_by_role("button", name="Zoom in")
    box = zoom_in.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44

    # A click on the map sets the call's place; the call appears on the map, linked to
    # the clinician it was offered to.
    map_box = desk.locator("#map").bounding_box()
    assert map_box is not None
    desk.mouse.click(map_box["x"] + map_box["width"] * 0.3, map_box["y"] + map_box["height"] * 0.6)
    lat = float(desk.get_by_label("Latitude").input_value())
    lon = float(desk.get_by_label("Longitude").input_value())
    assert 39.9 < lat < 40.3 and -75.6 < lon < -75.1
    desk.get_by_label("Address").fill("7 Swede St")
    desk.get_by_label("Priority").select_option("1")
    desk.get_by_role("button", name="Dispatch").click()
    expect(desk.locator("#call-result")).to_contain_text(
        "Offered: clinician to Riley Adeyemi (CL-7)"
    )
    call = desk.locator(".call-marker.priority-1")
    expect(call).to_have_count(1)
    expect(call).to_have_attribute(
        "title", re.compile(r"^Call: P1 mental health crisis at 7 Swede St")
    )
    expect(desk.locator("path.assignment-line")).to_have_count(1)
    expect(desk.locator("#active")).to_contain_text("Riley Adeyemi (CL-7) — offered")
    desk.evaluate("() => window.scrollTo(0, 0)")
    screenshot(desk, artifacts, "console-dispatcher.png")
    scale = desk.locator(".leaflet-control-scale-line").first
    before = scale.inner_text()
    zoom_in.click()
    expect(scale).not_to_have_text(before)


def test_a_closed_call_stays_for_the_shift_with_its_disposition_and_timeline(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    clinician = unit(dispatcher, kind="clinician", name="Dana Ruiz", external_id="unit-214")
    made = board_call(dispatcher, "1 Main St", "welfare_check", 3)
    aid = made.json()["assignments"][0]["id"]
    desk = open_board(browser, agency.server.url, agency.token(Role.dispatcher))
    expect(desk.locator("#board tbody tr")).to_have_count(1)
    # What the board says of each event as it arrives, in words.
    desk.evaluate(
        "() => { window.said = []; addEventListener('corespond:event',"
        " (e) => said.push(eventInWords(e.detail))); }"
    )
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        assert phone.post(f"/v1/assignments/{aid}/accept").status_code == 200
        for status in ("en_route", "on_scene"):
            moved = phone.post(f"/v1/assignments/{aid}/status", json={"status": status})
            assert moved.status_code == 200, moved.text
        expect(desk.locator("#active")).to_contain_text("Dana Ruiz (unit-214) — on scene")
        cleared = phone.post(
            f"/v1/assignments/{aid}/status",
            json={"status": "cleared", "disposition": "resolved_on_scene"},
        )
        assert cleared.status_code == 200, cleared.text

    closed = desk.locator(f'#closed [data-call="{made.json()["id"]}"]')
    expect(closed).to_contain_text("resolved on scene")
    said = desk.evaluate("() => said")
    assert "Dana Ruiz (unit-214) is on scene (P3 welfare check at 1 Main St)" in said, said
    assert "Call P3 welfare check at 1 Main St closed: resolved on scene" in said, said
    assert not [line for line in said if re.search(r"\b(assignment|call)\.[a-z_]+", line)]
    expect(desk.locator("#active")).not_to_contain_text("Dana Ruiz")
    closed.locator("summary").click()
    timeline = closed.locator(".timeline li")
    expect(timeline.first).to_contain_text("Call received: P3 welfare check at 1 Main St")
    expect(closed.locator(".timeline")).to_contain_text("Dana Ruiz (unit-214) is on scene")
    expect(closed.locator(".timeline")).to_contain_text(
        "Dana Ruiz (unit-214) cleared: resolved on scene"  # each clear says its disposition
    )
    expect(timeline.last).to_contain_text("Closed: resolved on scene")
    expect(timeline).to_have_count(
        7
    )  # received, offered, accepted, en route, on scene, cleared, closed
    for stamp in closed.locator(".timeline time").all_inner_texts():
        assert TIME_24H.match(stamp), stamp
    assert not re.search(r"\b[AP]M\b", desk.locator("#dispatcher").inner_text())
    # A reload keeps it: the shift is the last 12 hours, not the page's life.
    desk.reload()
    kept = desk.locator(f'#closed [data-call="{made.json()["id"]}"]')
    expect(kept).to_contain_text("resolved on scene")
    kept.locator("summary").click()
    expect(kept.locator(".timeline li")).to_have_count(7)
    desk.locator("#closed-title").evaluate("(title) => title.scrollIntoView()")
    screenshot(desk, artifacts, "console-dispatcher-closed.png")


def test_an_emergency_alarms_every_dispatcher_page_until_one_closes_it(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    clinician = unit(dispatcher, kind="clinician", name="Dana Ruiz", external_id="unit-214")
    unit(
        dispatcher,
        kind="officer",
        name="Lee Grant",
        external_id="unit-301",
        at=north_of(600),
        cit_until=NEXT_YEAR,
    )
    made = board_call(dispatcher, "9 Oak Ave", "mental_health_crisis", 2)
    first = open_board(browser, agency.server.url, agency.token(Role.dispatcher))
    second = open_board(browser, agency.server.url, agency.token(Role.dispatcher))

    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        aid = made.json()["assignments"][0]["id"]
        assert phone.post(f"/v1/assignments/{aid}/accept").status_code == 200
        raised = phone.post(
            f"/v1/responders/{clinician['id']}/emergency", json={"note": "he has a knife"}
        )
        assert raised.status_code == 201, raised.text
    for page in (first, second):
        alarm = page.locator(f'#emergencies [data-emergency="{raised.json()["id"]}"]')
        expect(alarm).to_contain_text("EMERGENCY")
        expect(alarm).to_contain_text("Clinician Dana Ruiz (unit-214)")
        expect(alarm).to_contain_text("last position 40.12150, -75.33990")
        expect(alarm).to_contain_text("call: P2 mental health crisis at 9 Oak Ave")
        expect(alarm).to_contain_text("he has a knife")
        expect(alarm).to_contain_text("backup: Lee Grant (unit-301)")
        expect(page.locator(".responder-marker.emergency")).to_have_attribute(
            "title", re.compile(r"Dana Ruiz \(unit-214\).*EMERGENCY")
        )
    screenshot(first, artifacts, "console-dispatcher-alarm.png")

    # A page opened after the alarm reads it from the server.
    third = open_board(browser, agency.server.url, agency.token(Role.supervisor))
    expect(third.locator("#emergencies .alarm")).to_have_count(1)

    first.get_by_role("button", name="Close").click()
    for page in (first, second, third):
        expect(page.locator("#emergencies .alarm")).to_have_count(0)
    closed = dispatcher.get(f"/v1/emergencies/{raised.json()['id']}").json()
    assert closed["closed_at"] is not None and closed["closed_by"]


def held_board(browser: Browser, base_url: str, token: str) -> tuple[Page, HeldAnswer]:
    """A board whose first read of the open emergencies is held (and has been asked)."""
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    held = HeldAnswer(page, "**/v1/emergencies?open=true")
    page.goto(f"{base_url}/console")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#alarms")).to_have_attribute("aria-busy", "true")
    held.wait(page)
    return page, held


def test_an_alarm_raised_or_closed_while_the_board_rereads_them_is_not_undone(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """The board re-reads the open alarms on load and on a reconnect. An answer the
    server gave before an emergency was raised, or before it was closed, is older than
    the event the page has since shown, and must not take the alarm away or bring it
    back."""
    clinician = unit(dispatcher, kind="clinician", name="Dana Ruiz", external_id="unit-214")
    made = board_call(dispatcher, "9 Oak Ave", "mental_health_crisis", 2)
    raising, held = held_board(browser, agency.server.url, agency.token(Role.dispatcher))
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        aid = made.json()["assignments"][0]["id"]
        assert phone.post(f"/v1/assignments/{aid}/accept").status_code == 200
        raised = phone.post(f"/v1/responders/{clinician['id']}/emergency", json={})
        assert raised.status_code == 201, raised.text
    alarm = raising.locator(f'#emergencies [data-emergency="{raised.json()["id"]}"]')
    expect(alarm).to_contain_text("EMERGENCY")
    assert held.wait(raising).json() == [], "the held answer was read before the emergency"
    held.give()
    expect(raising.locator("#alarms")).not_to_have_attribute("aria-busy", "true")
    expect(raising.locator("#emergencies .alarm")).to_have_count(1)
    expect(alarm).to_contain_text("Dana Ruiz (unit-214)")

    # A page whose re-read was answered while the emergency was open, and given that
    # answer after the emergency was closed.
    closing, held = held_board(browser, agency.server.url, agency.token(Role.supervisor))
    closed = dispatcher.post(f"/v1/emergencies/{raised.json()['id']}/close")
    assert closed.status_code == 200, closed.text
    expect(closing.locator("#events")).to_contain_text("Emergency of Dana Ruiz (unit-214) closed")
    assert [x["id"] for x in held.wait(closing).json()] == [raised.json()["id"]]
    held.give()
    expect(closing.locator("#alarms")).not_to_have_attribute("aria-busy", "true")
    expect(closing.locator("#emergencies .alarm")).to_have_count(0)
    expect(raising.locator("#emergencies .alarm")).to_have_count(0)


def test_a_missed_checkin_alarms_the_board_until_acknowledged(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    with agency.client(Role.admin) as admin:
        shortened = admin.patch(
            "/v1/agency",
            json={"checkin_interval_s": 5, "checkin_grace_s": 5, "checkin_missed_rule": "alarm"},
        )
        assert shortened.status_code == 200, shortened.text
    clinician = unit(dispatcher, kind="clinician", name="Dana Ruiz", external_id="unit-214")
    made = board_call(dispatcher, "4 Elm St", "welfare_check", 2)
    desk = open_board(browser, agency.server.url, agency.token(Role.dispatcher))
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        aid = made.json()["assignments"][0]["id"]
        assert phone.post(f"/v1/assignments/{aid}/accept").status_code == 200
        for status in ("en_route", "on_scene"):
            assert phone.post(f"/v1/assignments/{aid}/status", json={"status": status}).is_success

    alarm = desk.locator("#missed-checkins .alarm")
    expect(alarm).to_contain_text("Missed check-in", timeout=30_000)
    expect(alarm).to_contain_text("Clinician Dana Ruiz (unit-214)")
    expect(alarm).to_contain_text("on scene at 4 Elm St")
    for stamp in re.findall(r"\d{1,2}:\d\d(?::\d\d)?(?:\s?[AP]M)?", alarm.inner_text()):
        assert TIME_24H.match(stamp), stamp
    screenshot(desk, artifacts, "console-dispatcher-checkin.png")
    # Another page, opened now, reads the open alarm from the server.
    other = open_board(browser, agency.server.url, agency.token(Role.dispatcher))
    expect(other.locator("#missed-checkins .alarm")).to_have_count(1)

    # The responder answers late: the alarm says so and stays until acknowledged, on
    # this page and on one that reads it again from the server.
    with agency.client(Role.responder, responder_id=clinician["id"]) as phone:
        assert phone.post(f"/v1/assignments/{aid}/checkin").status_code == 200
    expect(alarm).to_contain_text(re.compile(r"answered late at \d\d:\d\d:\d\d: OK"))
    reread = open_board(browser, agency.server.url, agency.token(Role.supervisor))
    expect(reread.locator("#missed-checkins .alarm")).to_contain_text("answered late at")
    expect(alarm).to_have_count(1)
    alarm.first.get_by_role("button", name="Acknowledge").click()
    expect(desk.locator("#missed-checkins .alarm")).to_have_count(0)
    expect(other.locator("#missed-checkins .alarm")).to_have_count(0)


def test_tiles_are_drawn_under_the_map_when_a_tile_server_is_configured(
    browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    # This server's own icon stands in for a tile server: the browser asks for each tile.
    tiles = f"http://127.0.0.1:{port}/favicon.ico?z={{z}}&x={{x}}&y={{y}}"
    server = start_server(
        tmp_path,
        port=port,
        extra_env={
            "CORESPOND_CONSOLE_TILE_URL": tiles,
            "CORESPOND_CONSOLE_TILE_ATTRIBUTION": "© Test Tiles contributors",
        },
    )
    try:
        kit = new_agency(server)
        with kit.client(Role.dispatcher) as desk_api:
            unit(desk_api, kind="clinician", name="Dana Ruiz", external_id="unit-214")
        desk = open_board(browser, server.url, kit.token(Role.dispatcher))
        expect(desk.locator(".responder-marker.kind-clinician")).to_have_count(1)
        tile = desk.locator("img.leaflet-tile").first
        expect(tile).to_have_attribute("src", re.compile(r"/favicon\.ico\?z=\d+&x=\d+&y=\d+$"))
        # The credit the provider requires, as configured.
        expect(desk.locator(".leaflet-control-attribution")).to_contain_text(
            "© Test Tiles contributors"
        )
    finally:
        stop_server(server)
