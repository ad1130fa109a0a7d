"""The supervisor's dashboard in a real Chromium: the outcome figures of the story in
tests/service/test_outcome_reports.py drawn as tiles, charts and a table, the range and
grouping picked, the CSV downloaded; and a year of generated calls for the README's
screenshot."""

import random
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from bench.outcome_report import write_year
from models.responder import Responder
from models.vocabulary import Role
from service.store.transaction import Tx
from tests.console.conftest import open_console
from tests.service.test_outcome_reports import seed


def pick(page: Page, start: str, end: str, group_by: str) -> None:
    page.locator("#dash-from").fill(start)
    page.locator("#dash-to").fill(end)
    page.locator("#dash-group").select_option(group_by)
    page.get_by_role("button", name="Show").click()


def test_a_supervisor_sees_the_figures_by_week_and_downloads_them(
    browser: Browser, server: Any, agency: Any, artifacts: Path
) -> None:
    server.uow.write_sync(seed, agency.id)
    page = open_console(browser, server.url, agency.token(Role.supervisor))
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    expect(page.locator("#dashboard")).to_be_visible()
    pick(page, "2026-03-02", "2026-03-16", "week")
    diverted = page.locator('.tile[data-figure="Diverted"]')
    expect(diverted).to_contain_text("50.0 %")
    expect(diverted).to_contain_text("4 of 8")
    expect(page.locator('.tile[data-figure="Calls"]')).to_contain_text("11")
    expect(page.locator("#dash-unserved")).to_contain_text("outside hours 1")
    rows = page.locator("#dash-groups tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("2026-W10")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("<5")
    expect(page.locator("#dashboard .uplot")).to_have_count(3)
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(downloading.value.path()).read_text()
    lines = text.splitlines()
    assert lines[0].startswith("key,calls,") and lines[1].startswith("all,11,")
    assert [line.split(",")[0] for line in lines[1:]] == ["all", "2026-W10", "2026-W11"]
    # The page's policy (no inline styles or scripts) refused nothing uPlot does.
    assert [c for c in complaints if "Content Security Policy" in c] == []


def test_a_backwards_range_says_what_is_wrong(browser: Browser, server: Any, agency: Any) -> None:
    page = open_console(browser, server.url, agency.token(Role.admin))
    pick(page, "2026-03-16", "2026-03-02", "month")
    expect(page.locator("#dash-error")).to_contain_text("`to` must be after `from`")


def test_a_dispatcher_has_no_dashboard(browser: Browser, server: Any, agency: Any) -> None:
    page = open_console(browser, server.url, agency.token(Role.dispatcher))
    expect(page.locator("#dispatcher")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()


def test_a_quarter_of_a_county_s_calls_for_the_readme(
    browser: Browser, server: Any, agency: Any, artifacts: Path
) -> None:
    def write(tx: Tx) -> None:
        staff = [Responder(agency_id=agency.id, kind="clinician", name=f"C{i}") for i in range(8)]
        tx.session.add_all(staff)
        tx.session.flush()
        write_year(tx, agency.id, [r.id for r in staff], calls=4000, rng=random.Random(7))

    server.uow.write_sync(write)
    page = open_console(browser, server.url, agency.token(Role.supervisor))
    pick(page, "2026-01-05", "2026-03-30", "week")
    expect(page.locator("#dash-groups tbody tr")).to_have_count(12)
    expect(page.locator("#dashboard .uplot")).to_have_count(3)
    page.locator("#dashboard").screenshot(path=artifacts / "console-dashboard.png")
