"""The close in a real browser: the clinician's card suggests nearby places with room,
the close takes a transport, a referral and a follow-up in a few clicks, a bad
combination is said on the card, an overdue follow-up shows on the desk until the
clinician takes it from the queue and completes it. And the
same close in a few keys on the terminal console."""

import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect
from sqlalchemy import update
from sqlmodel import col

from models.outcome import FollowUp
from models.vocabulary import Role
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.console.conftest import open_console
from tests.console.test_terminal_console import Terminal
from tests.service.factories import north_of, post_call, responder


def place(admin: httpx.Client, name: str, kind: str, metres: float, **more: object) -> str:
    at = north_of(metres)
    body = {"name": name, "kind": kind, "location": {"lat": at[0], "lon": at[1]}, **more}
    created = admin.post("/v1/resources", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_clinician_closes_with_transport_referral_and_follow_up_in_a_few_clicks(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client, artifacts: Path
) -> None:
    admin = agency.client(Role.admin)
    centre = place(admin, "Beech St Crisis Centre", "crisis_centre", 800, capacity=3)
    clinic = place(admin, "Main St Clinic", "outpatient_clinic", 1500)
    place(admin, "Full House", "crisis_centre", 300, capacity=0)
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    call = post_call(dispatcher, age_group="adult")
    aid = call["assignments"][0]["id"]
    assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200

    phone = open_console(
        browser, agency.server.url, agency.token(Role.responder, responder_id=clinician["id"])
    )
    work = phone.locator("[data-work]")
    expect(work.locator(".suggested")).to_contain_text("Beech St Crisis Centre")
    expect(work.locator(".suggested")).not_to_contain_text("Full House")
    phone.get_by_role("button", name="En route").click()
    expect(work).to_contain_text("en route")
    phone.get_by_role("button", name="On scene").click()
    expect(work).to_contain_text("on scene")

    # A bad combination is said on the card, which keeps what was picked.
    work.get_by_label("Disposition").select_option("arrest")
    work.get_by_role("button", name="Clear").click()
    expect(work.locator(".close-error")).to_contain_text("arrest needs an officer")

    work.get_by_label("Disposition").select_option("transported_crisis_centre")
    expect(work.get_by_label("Destination")).to_have_value(centre)
    work.get_by_label("Referral", exact=True).select_option(clinic)
    work.get_by_label("Follow-up within").check()
    work.get_by_label("Follow-up hours").select_option("48")
    phone.screenshot(path=artifacts / "responder-close.png", full_page=True)
    work.get_by_role("button", name="Clear").click()
    expect(phone.locator("#no-work")).to_be_visible()

    outcome = dispatcher.get(f"/v1/calls/{call['id']}/outcome").json()
    assert outcome["disposition"] == "transported_crisis_centre"
    assert outcome["destination_id"] == centre and outcome["referral_id"] == clinic
    assert outcome["follow_up_due_at"] is not None

    # The task falls overdue: the desk lists it.
    [task] = dispatcher.get("/v1/follow-ups").json()

    def backdate(tx: Tx) -> None:
        tx.session.execute(
            update(FollowUp)
            .where(col(FollowUp.id) == uuid.UUID(task["id"]))
            .values(due_at=tx.now - timedelta(hours=1))
        )

    agency.server.uow.write_sync(backdate)
    desk = open_console(browser, agency.server.url, agency.token(Role.dispatcher))
    expect(desk.locator("#overdue")).to_contain_text(call["id"][:8])
    expect(desk.locator("#overdue-count")).to_have_text("1")
    desk.screenshot(path=artifacts / "dispatcher-overdue-follow-ups.png", full_page=True)

    # The clinician takes it from the queue and completes it; the desk's list empties.
    task_item = phone.locator(f'[data-follow-up="{task["id"]}"]')
    task_item.get_by_role("button", name="Claim").click()
    task_item.get_by_label("Follow-up outcome").select_option("linked_to_care")
    task_item.get_by_role("button", name="Complete").click()
    expect(phone.locator("#no-follow-ups")).to_be_visible()
    expect(desk.locator("#overdue-count")).to_have_text("0")
    done = dispatcher.get(f"/v1/follow-ups/{task['id']}").json()
    assert done["outcome"] == "linked_to_care" and done["responder_id"] == clinician["id"]


def test_the_terminal_closes_with_numbers_from_near_in_one_line(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    admin = agency.client(Role.admin)
    ed = place(admin, "Riddle ED", "emergency_department", 900)
    place(admin, "Elm St Shelter", "shelter", 2500)
    clinician = responder(dispatcher, kind="clinician")
    terminal = Terminal(agency.server, agency.token(Role.responder, responder_id=clinician["id"]))
    try:
        terminal.wait_for(r"connected as responder")
        call = post_call(dispatcher)
        aid = call["assignments"][0]["id"]
        assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200
        moved = dispatcher.post(f"/v1/assignments/{aid}/status", json={"status": "on_scene"})
        assert moved.status_code == 200
        terminal.wait_for(r"clinician → on_scene")
        terminal.type(f"near {aid[:8]}")
        terminal.wait_for(r"1\. Riddle ED · emergency department · 0\.9 km")
        terminal.wait_for(r"2\. Elm St Shelter · shelter · 2\.5 km")
        terminal.type(
            f'clear {aid[:8]} transported_ed dest=1 ref="Elm St Shelter, bed 4" backup fu=72'
        )
        terminal.wait_for(r"ok: status \w{8} → cleared")
    finally:
        terminal.close()

    outcome = dispatcher.get(f"/v1/calls/{call['id']}/outcome").json()
    assert outcome["disposition"] == "transported_ed"
    assert outcome["destination_id"] == ed
    assert outcome["referral_text"] == "Elm St Shelter, bed 4"
    assert outcome["backup_requested"] is True
    assert outcome["follow_up_due_at"] is not None
