"""What a person meets first: the root, the icon, the API docs offline, and a wrong
address that says where the API is."""

import httpx

from tests.conftest import Server


def test_the_root_leads_a_browser_to_the_console_the_docs_and_the_demo(server: Server) -> None:
    page = httpx.get(f"{server.url}/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for link in ('href="/console"', 'href="/docs"', 'href="/redoc"', "corespond demo"):
        assert link in page.text
    assert page.headers["vary"] == "Accept"
    assert httpx.head(f"{server.url}/").status_code == 200  # an uptime check's probe


def test_the_root_gives_any_other_client_the_same_links(server: Server) -> None:
    links = httpx.get(f"{server.url}/").json()
    assert links["console"] == "/console"
    assert links["api_docs"] == "/docs"
    assert links["openapi"] == "/openapi.json"


def test_the_icon_is_served(server: Server) -> None:
    icon = httpx.get(f"{server.url}/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    console = httpx.get(f"{server.url}/console").text
    assert '<link rel="icon" href="/favicon.ico">' in console


def test_the_api_docs_load_only_what_corespond_serves(server: Server) -> None:
    for page, assets in (
        ("/docs", ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css")),
        ("/redoc", ("redoc/redoc.standalone.js",)),
    ):
        html = httpx.get(f"{server.url}{page}").text
        assert "cdn." not in html
        assert "fonts.googleapis" not in html
        for asset in assets:
            url = f"/console/static/vendor/{asset}"
            assert url in html
            served = httpx.get(f"{server.url}{url}")
            assert served.status_code == 200, url
            assert len(served.content) > 100_000  # the library itself, not a stub


def test_an_unknown_address_says_what_was_not_found_and_where_the_api_is(server: Server) -> None:
    missing = httpx.get(f"{server.url}/v2/calls")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "NotFound",
        "detail": "nothing at GET /v2/calls: the API lives under /v1 (listed at /docs and "
        "/openapi.json), the console at /console",
    }


def test_a_wrong_method_says_every_method_the_path_takes(server: Server) -> None:
    wrong = httpx.delete(f"{server.url}/v1/calls")  # one route GETs, another POSTs
    assert wrong.status_code == 405
    assert wrong.json() == {
        "error": "MethodNotAllowed",
        "detail": "DELETE /v1/calls is not allowed here; this path takes GET, POST",
    }
    assert wrong.headers["Allow"] == "GET, POST"
    assert httpx.delete(f"{server.url}/healthz").headers["Allow"] == "GET"


def test_options_answers_405_naming_every_method_the_path_takes(server: Server) -> None:
    """No CORS preflight is served (the console is same-origin; other clients need no
    OPTIONS), so OPTIONS is a wrong method like any other, and says what is right."""
    asked = httpx.options(f"{server.url}/v1/calls")
    assert asked.status_code == 405
    assert asked.headers["Allow"] == "GET, POST"
    assert asked.json() == {
        "error": "MethodNotAllowed",
        "detail": "OPTIONS /v1/calls is not allowed here; this path takes GET, POST",
    }


def test_an_unknown_route_under_the_api_says_where_the_routes_are_listed(server: Server) -> None:
    missing = httpx.get(f"{server.url}/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        "no route GET /v1/nothing: the API's routes are listed at /docs and /openapi.json"
    )
