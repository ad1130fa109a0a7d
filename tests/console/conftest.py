"""A real browser for the console tests: Debian's chromium driven by Playwright."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    APIResponse,
    Browser,
    BrowserContext,
    Page,
    Route,
    expect,
    sync_playwright,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module-scoped: Playwright's sync API keeps an event loop running on this thread
    # while it is open, and later tests call asyncio.run().
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (gitignored; CI keeps them with the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def open_console(browser: Browser, base_url: str, token: str) -> Page:
    """A new browser context (its own session storage), signed in and live."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{base_url}/console")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_have_text("Live")
    return page


class HeldAnswer:
    """The first answer to a request the page makes, read from the server when the page
    asks and given to the page only on `give()`: the page then acts on an answer older
    than what it has heard since. Later requests go through."""

    def __init__(self, target: Page | BrowserContext, pattern: str) -> None:
        self._held: list[tuple[Route, APIResponse]] = []
        target.route(pattern, self._hold)

    def _hold(self, route: Route) -> None:
        if self._held:
            route.continue_()
        else:
            self._held.append((route, route.fetch()))

    def wait(self, page: Page) -> APIResponse:
        """The server's answer, once the page has asked. The route's handler runs only
        while Playwright is being called, so this waits through the page."""
        for _ in range(200):
            if self._held:
                return self._held[0][1]
            page.wait_for_timeout(50)
        raise AssertionError("the page never made the request")

    def give(self) -> None:
        route, answer = self._held[0]
        route.fulfill(response=answer)
