"""The web console with a road network: what made an ETA is said where people read it,
and the dispatcher reads why the road chose someone other than the nearest."""

import re
import subprocess
from pathlib import Path

from playwright.sync_api import Browser, expect

from models.vocabulary import Role
from tests.conftest import CORESPOND, new_agency, start_server, stop_server
from tests.console.conftest import open_console
from tests.service.factories import responder
from tests.service.osm_town import write_town


def test_an_offer_ranked_by_road_says_so_to_the_clinician_and_the_dispatcher(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    town = write_town(tmp_path)
    graph = tmp_path / "town.roads"
    built = subprocess.run(
        [CORESPOND, "roads", "build", str(town.path), "--out", str(graph)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    server = start_server(tmp_path, extra_env={"CORESPOND_ROUTING": str(graph)})
    try:
        kit = new_agency(server)
        with kit.client(Role.dispatcher) as desk_api:
            responder(
                desk_api,
                kind="clinician",
                name="Chen",
                at=(town.across_river.lat, town.across_river.lon),
            )
            ruiz = responder(
                desk_api, kind="clinician", name="Ruiz", at=(town.same_side.lat, town.same_side.lon)
            )
        desk = open_console(browser, server.url, kit.token(Role.dispatcher))
        phone = open_console(
            browser, server.url, kit.token(Role.responder, responder_id=ruiz["id"])
        )
        desk.get_by_label("Latitude").fill(f"{town.call.lat:.6f}")
        desk.get_by_label("Longitude").fill(f"{town.call.lon:.6f}")
        desk.get_by_label("Address").fill("South Bank St")
        desk.get_by_label("Category").select_option("welfare_check")
        desk.get_by_role("button", name="Dispatch").click()
        result = desk.locator("#call-result")
        expect(result).to_contain_text("Offered: clinician to Ruiz")
        expect(result).to_contain_text("chose Ruiz (")
        expect(result).to_contain_text("over Chen (300 m away, ")
        expect(result).to_contain_text(
            re.compile(r"\(2\.\d km by road · ETA \d+ min by road \(road graph town\.roads\)\)")
        )
        offer = phone.locator("[data-offer]")
        expect(offer.locator(".travel")).to_have_text(
            re.compile(r"^2\.\d km by road · ETA \d+ min by road \(road graph town\.roads\)")
        )
        expect(offer).not_to_contain_text("Chen")  # a colleague's name and place: staff only
        phone.screenshot(path=artifacts / "responder-offer-by-road.png", full_page=True)
    finally:
        stop_server(server)
