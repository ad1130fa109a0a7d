"""What a browser opens: the landing page, the web console, the API docs and the icon,
all served by CoRespond itself from its own files (no build step, no CDN)."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from service.web.deps import State

CONSOLE_FILES = Path(__file__).resolve().parent / "web"
VENDOR = "/console/static/vendor"  # third-party files: `make vendor`, their licences beside

router = APIRouter(include_in_schema=False)

# A page that holds a token refuses to be framed, and runs only its own scripts.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

# The API docs' own inline script and styles run; nothing else leaves this server (ReDoc
# would fetch its maker's logo from a CDN: the browser refuses it and ReDoc hides it).
_DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

WHERE_TO_GO = {
    "service": "CoRespond: dispatch for behavioural-health calls",
    "console": "/console",
    "api_docs": "/docs",
    "api_reference": "/redoc",
    "openapi": "/openapi.json",
    "api": "/v1 (every route takes `Authorization: Bearer <token>`)",
    "try_it": "`corespond demo` seeds a demo agency and prints tokens",
}


@router.api_route("/", methods=["GET", "HEAD"], response_model=None)
async def landing(request: Request) -> FileResponse | JSONResponse:
    """A browser (whose Accept names text/html) gets a page that leads to the console
    and the API docs; any other client the same links as JSON."""
    vary = {"Vary": "Accept"}  # one address, two answers: caches must keep both
    if "text/html" in request.headers.get("accept", ""):
        return FileResponse(CONSOLE_FILES / "welcome.html", headers=_HEADERS | vary)
    return JSONResponse(WHERE_TO_GO, headers=vary)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(
        CONSOLE_FILES / "favicon.ico",
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "max-age=86400"},
    )


@router.get("/console")
async def console_page() -> FileResponse:
    return FileResponse(CONSOLE_FILES / "index.html", headers=_HEADERS)


@router.get("/console/manifest.webmanifest")
async def console_manifest() -> FileResponse:
    """The web app manifest: the console installs as an app whose scope is /console."""
    return FileResponse(
        CONSOLE_FILES / "manifest.webmanifest",
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/console/sw.js")
async def console_service_worker() -> FileResponse:
    """The service worker that keeps the console's own files for offline use. It lives
    at /console/sw.js but takes the scope /console (the page itself, which is above the
    script's own folder), which the `Service-Worker-Allowed` header permits."""
    return FileResponse(
        CONSOLE_FILES / "sw.js",
        media_type="text/javascript",
        headers={
            "Service-Worker-Allowed": "/console",
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'self'",
        },
    )


@router.get("/console/config.json")
async def console_config(state: State) -> dict[str, Any]:
    """What the page needs to know: a map tile URL and its credit, if configured."""
    settings = state.settings
    return {
        "tile_url": settings.console_tile_url,
        "tile_attribution": settings.console_tile_attribution,
    }


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI, from the vendored swagger-ui-dist (FastAPI's default loads a CDN)."""
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="CoRespond API",
        swagger_js_url=f"{VENDOR}/swagger-ui-dist/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui-dist/swagger-ui.css",
        swagger_favicon_url="/favicon.ico",
        # The public validator's badge would be the one request to leave the server.
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers.update(_DOCS_HEADERS)
    return page


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    """ReDoc, from the vendored redoc bundle, with the browser's own fonts."""
    page = get_redoc_html(
        openapi_url="/openapi.json",
        title="CoRespond API reference",
        redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
        redoc_favicon_url="/favicon.ico",
        with_google_fonts=False,
    )
    page.headers.update(_DOCS_HEADERS)
    return page


# Compressed for a phone on a weak signal (the page's files, the map's and the charts':
# 337 kB as they are, about 112 kB gzipped); the API and the socket are left alone.
static = GZipMiddleware(StaticFiles(directory=CONSOLE_FILES), minimum_size=1024)
