"""The API docs open in a browser with no internet: Swagger UI and ReDoc come from
CoRespond's own vendored files, and a page that asked elsewhere would be seen (ReDoc
itself asks a CDN for its maker's logo; the pages' policy stops it in the browser)."""

from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route, expect

from tests.conftest import Server

REDOC_RENDERS_WITHIN_MS = 30_000


def offline_page(browser: Browser, asked_elsewhere: list[str]) -> Page:
    """A page whose every request to another host fails, as it would without internet."""
    page = browser.new_context().new_page()

    def only_here(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            asked_elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    return page


def test_swagger_ui_lists_the_api_without_internet(browser: Browser, server: Server) -> None:
    asked_elsewhere: list[str] = []
    page = offline_page(browser, asked_elsewhere)
    page.goto(f"{server.url}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/v1/calls").first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("CoRespond")
    assert asked_elsewhere == []
    page.context.close()


def test_redoc_shows_the_reference_without_internet(browser: Browser, server: Server) -> None:
    asked_elsewhere: list[str] = []
    page = offline_page(browser, asked_elsewhere)
    page.goto(f"{server.url}/redoc")
    # ReDoc lays out the whole reference in the page before it shows any of it: 1.7 s
    # here when idle, 3 s cold, and past expect's 5 s on a loaded host (a CI run).
    expect(page.get_by_role("heading", name="CoRespond").first).to_be_visible(
        timeout=REDOC_RENDERS_WITHIN_MS
    )
    expect(page.get_by_text("/v1/calls").first).to_be_attached()
    assert asked_elsewhere == []
    page.context.close()


def test_the_root_page_leads_to_the_console(browser: Browser, server: Server) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{server.url}/")
    page.get_by_role("link", name="The console").click()
    expect(page.get_by_label("Token")).to_be_visible()
    page.context.close()
