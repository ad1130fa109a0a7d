"""What a responder's phone shows is what is still true: an offer declined, lapsed or
withdrawn goes at once and a later refresh does not bring it back; a check-in prompt due
while the page was away is shown on opening it; a phone handed to the next person on
shift keeps nothing of the last one's; an SOS held with no connection outlives a
reload and is raised once; and a phone reloaded with no connection still has its SOS
button, and learns of a close it missed once it is back; the call it is on shows
however many calls were taken since that call came in."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.console.conftest import HeldAnswer
from tests.console.test_responder_phone import offer_to, on_phone, poll
from tests.service.factories import responder

AWAKE = re.compile(r"^(held|wanted)$")


def refreshed(phone: Page) -> None:
    """The page re-reads its calls now (as any event or the reconnect makes it do)."""
    phone.evaluate("() => refresh()")


def offered_while_the_phone_reads_slowly(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> tuple[Page, HeldAnswer, dict[str, Any]]:
    """A phone shown an offer by its event, whose re-read of its calls that the offer set
    off is still on its way (a slow network): what the page shows is the event's."""
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    phone = on_phone(browser, agency, clinician["id"])
    held = HeldAnswer(phone, "**/v1/calls?status=pending&limit=500")
    call = offer_to(dispatcher, address="1207 West Marshall Street, Norristown")
    expect(phone.locator("[data-offer]")).to_contain_text("1207 West Marshall Street")
    # Kept awake for it (held, or wanted where the browser grants no lock).
    expect(phone.locator("#responder")).to_have_attribute("data-awake", AWAKE)
    held.wait(phone)
    return phone, held, call


def assert_the_offer_stays_gone(phone: Page, held: HeldAnswer) -> None:
    """Gone now, and after the held re-read (asked while it was offered) and a new one."""
    offer = phone.locator("[data-offer]")
    expect(offer).to_have_count(0)
    held.give()
    refreshed(phone)
    expect(offer).to_have_count(0)
    expect(phone.locator("#no-offers")).to_be_visible()
    expect(phone.locator("#responder")).to_have_attribute("data-awake", "no")


def test_an_offer_declined_on_the_phone_goes_and_a_refresh_does_not_bring_it_back(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    phone, held, _ = offered_while_the_phone_reads_slowly(browser, agency, dispatcher)
    phone.locator("[data-offer]").get_by_role("button", name="Decline").click()
    expect(phone.locator("#events")).to_contain_text("→ declined")
    assert_the_offer_stays_gone(phone, held)


def test_an_offer_withdrawn_when_dispatch_cancels_the_call_goes(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    phone, held, call = offered_while_the_phone_reads_slowly(browser, agency, dispatcher)
    cancelled = dispatcher.post(
        f"/v1/calls/{call['id']}/cancel", json={"reason": "caller called back: fine"}
    )
    assert cancelled.status_code == 200, cancelled.text
    expect(phone.locator("#events")).to_contain_text("→ cancelled")
    assert_the_offer_stays_gone(phone, held)


def test_an_offer_left_to_lapse_goes_when_it_expires(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    with agency.client(Role.admin) as admin:
        assert admin.patch("/v1/agency", json={"offer_timeout_s": 5}).status_code == 200
    phone, held, _ = offered_while_the_phone_reads_slowly(browser, agency, dispatcher)
    expect(phone.locator("#events")).to_contain_text("→ expired", timeout=30_000)
    assert_the_offer_stays_gone(phone, held)


def on_scene_with_a_check_in_due(
    agency: AgencyKit, dispatcher: httpx.Client, responder_id: str
) -> dict[str, Any]:
    """The responder's first check-in, once it is due on its assignment on scene."""
    call = offer_to(dispatcher, address="4 Elm St, Norristown")
    aid = call["assignments"][0]["id"]
    with agency.client(Role.responder, responder_id=responder_id) as api:
        assert api.post(f"/v1/assignments/{aid}/accept").status_code == 200
        for status in ("en_route", "on_scene"):
            stepped = api.post(f"/v1/assignments/{aid}/status", json={"status": status})
            assert stepped.status_code == 200, stepped.text
        [due] = poll(lambda: api.get("/v1/checkins", params={"open": "true"}).json(), within_s=30)
    checkin: dict[str, Any] = due["checkin"]
    assert checkin["assignment_id"] == aid and checkin["state"] == "due"
    return checkin


def test_a_check_in_due_before_the_phone_opened_is_prompted_on_opening(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    with agency.client(Role.admin) as admin:
        settings = {"checkin_interval_s": 5, "checkin_grace_s": 600}
        assert admin.patch("/v1/agency", json=settings).status_code == 200
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    due = on_scene_with_a_check_in_due(agency, dispatcher, clinician["id"])

    # A new browser context: nothing kept from a page that heard `checkin.due`.
    phone = on_phone(browser, agency, clinician["id"])
    prompt = phone.locator(f'[data-work="{due["assignment_id"]}"] .checkin-due')
    expect(prompt).to_contain_text("are you OK?")
    prompt.get_by_role("button", name="I'm OK").click()
    expect(prompt).to_be_hidden()
    with agency.client(Role.responder, responder_id=clinician["id"]) as api:
        assert api.get("/v1/checkins", params={"open": "true"}).json() == []


def hand_over(phone: Page, agency: AgencyKit, responder_id: str) -> None:
    """The phone handed over: the last responder has signed out, the next signs in."""
    expect(phone.get_by_label("Token")).to_be_visible()
    phone.get_by_label("Token").fill(agency.token(Role.responder, responder_id=responder_id))
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.locator("#connection")).to_have_text("Live")
    expect(phone.locator("#my-status")).to_have_text("available")
    refreshed(phone)


def hand_to_the_next(phone: Page, agency: AgencyKit, dispatcher: httpx.Client) -> None:
    """The next on shift, a peer, signs in on the phone the last one signed out of."""
    second = responder(dispatcher, kind="peer", name="Sam Okafor")
    hand_over(phone, agency, second["id"])


def assert_nothing_of_the_last_one(phone: Page, listed: str, empty: str, *said: str) -> None:
    """None of the last responder's `listed` items, their lists' `empty` notes shown,
    no event that says any of `said`, and the phone not kept awake for them."""
    expect(phone.locator(listed)).to_have_count(0)
    expect(phone.locator(empty)).to_be_visible()
    for words in said:
        expect(phone.locator("#events")).not_to_contain_text(words)
    expect(phone.locator("#responder")).to_have_attribute("data-awake", "no")


def test_the_next_responder_on_a_shared_phone_sees_nothing_of_the_last_ones_work(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    first = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    phone = on_phone(browser, agency, first["id"])
    call = offer_to(dispatcher, category="suicidal_ideation", address="9 Oak Ave, Norristown")
    aid = call["assignments"][0]["id"]
    phone.locator(f'[data-offer="{aid}"]').get_by_role("button", name="Accept").click()
    expect(phone.locator(f'[data-work="{aid}"]')).to_contain_text("accepted")
    expect(phone.locator("#events")).to_contain_text("9 Oak Ave")

    phone.get_by_role("button", name="Sign out").click()
    # Hidden is not enough: the page itself holds none of it.
    expect(phone.locator("[data-work]")).to_have_count(0)
    expect(phone.locator("#events li")).to_have_count(0)
    hand_to_the_next(phone, agency, dispatcher)

    assert_nothing_of_the_last_one(phone, "[data-work]", "#no-work", "9 Oak Ave", "suicidal")


def test_the_next_responder_on_a_shared_phone_is_not_shown_the_last_ones_offer(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    first = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    phone = on_phone(browser, agency, first["id"])
    offer_to(dispatcher, category="welfare_check", address="1207 West Marshall Street")
    expect(phone.locator("[data-offer]")).to_contain_text("1207 West Marshall Street")

    phone.get_by_role("button", name="Sign out").click()
    hand_to_the_next(phone, agency, dispatcher)

    assert_nothing_of_the_last_one(
        phone, "[data-offer]", "#no-offers", "1207 West Marshall", "welfare"
    )


def phone_whose_page_is_kept(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> tuple[Page, str]:
    """A clinician's phone, signed in, whose page's files the service worker keeps: it
    opens again with no connection."""
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    phone = on_phone(browser, agency, clinician["id"])
    phone.wait_for_function("() => Boolean(navigator.serviceWorker.controller)")
    return phone, clinician["id"]


def hold_sos(phone: Page, says: str) -> None:
    """Hold the SOS button down (Enter) until the banner `says` it, then let go."""
    phone.locator("#sos").focus()
    phone.keyboard.down("Enter")
    expect(phone.locator("#help-coming")).to_contain_text(says, timeout=10_000)
    phone.keyboard.up("Enter")


def test_an_sos_waiting_for_the_connection_survives_a_reload_and_is_raised_once(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    phone, clinician_id = phone_whose_page_is_kept(browser, agency, dispatcher)
    keys: list[str] = []  # of every try to raise it, before the reload and after
    phone.on(
        "request",
        lambda r: (
            keys.append(r.headers["idempotency-key"]) if r.url.endswith("/emergency") else None
        ),
    )
    help_coming = phone.locator("#help-coming")
    phone.context.set_offline(True)
    hold_sos(phone, "Not sent yet")

    phone.reload()
    expect(phone.locator("#connection")).to_contain_text("Reconnecting")
    # Still offline: the page is the responder's as it was, and goes on sending it.
    expect(phone.locator("#sos")).to_be_visible()
    expect(help_coming).to_contain_text("Not sent yet")
    tried_before = len(keys)
    phone.context.set_offline(False)
    expect(help_coming).to_contain_text("Help is coming", timeout=20_000)
    [raised] = dispatcher.get("/v1/emergencies").json()
    assert raised["responder"]["id"] == clinician_id
    assert 0 < tried_before < len(keys) and len(set(keys)) == 1, keys  # one SOS, one key
    kept = "() => Object.keys(localStorage).filter((k) => k.startsWith('corespond_sos_'))"
    assert phone.evaluate(kept) == []  # through: nothing left to send


def test_a_phone_reloaded_with_no_connection_can_still_call_for_help(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    phone, _ = phone_whose_page_is_kept(browser, agency, dispatcher)
    phone.context.set_offline(True)
    phone.reload()
    expect(phone.locator("#connection")).to_contain_text("Reconnecting")
    sos = phone.locator("#sos")
    expect(sos).to_be_visible()  # before, the page waited for the server to say who it was
    hold_sos(phone, "Not sent yet")

    phone.context.set_offline(False)
    expect(phone.locator("#help-coming")).to_contain_text("Help is coming", timeout=20_000)
    expect(phone.locator("#connection")).to_have_text("Live")
    assert len(dispatcher.get("/v1/emergencies").json()) == 1


def test_an_emergency_closed_while_the_phone_was_away_ends_its_banner_when_it_is_back(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    phone, _ = phone_whose_page_is_kept(browser, agency, dispatcher)
    help_coming = phone.locator("#help-coming")
    hold_sos(phone, "Help is coming")
    [raised] = dispatcher.get("/v1/emergencies").json()

    phone.context.set_offline(True)
    phone.reload()
    expect(help_coming).to_contain_text("Help is coming")  # as this tab kept it
    closed = dispatcher.post(f"/v1/emergencies/{raised['id']}/close")
    assert closed.status_code == 200, closed.text
    phone.context.set_offline(False)
    expect(help_coming).to_be_hidden(timeout=20_000)
    expect(phone.locator("#connection")).to_have_text("Live")


def test_the_phone_shows_the_call_its_responder_is_on_after_fifty_later_ones(
    browser: Browser, agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """A call that waited an hour reaches a clinician who has been on fifty calls taken
    since (offered, then stood down): the phone, opened now, still shows the work."""
    clinician = responder(dispatcher, kind="clinician", name="Dana Ruiz")
    for n in range(50):
        later = offer_to(dispatcher, address=f"{n} Later St")
        assert later["assignments"][0]["responder_id"] == clinician["id"]
        stood_down = dispatcher.post(f"/v1/calls/{later['id']}/cancel", json={"reason": "fine"})
        assert stood_down.status_code == 200, stood_down.text
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    waited = offer_to(dispatcher, address="7 Waited Lane", received_at=an_hour_ago)
    aid = waited["assignments"][0]["id"]
    assert dispatcher.post(f"/v1/assignments/{aid}/accept").status_code == 200

    phone = on_phone(browser, agency, clinician["id"])
    expect(phone.locator("[data-work]")).to_contain_text("7 Waited Lane")
    expect(phone.locator("#no-work")).to_be_hidden()
    phone.context.close()
