"""`/console`: the web console, served by CoRespond itself (no build step, no CDN)."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from service.web.deps import State

CONSOLE_FILES = Path(__file__).resolve().parent / "web"

router = APIRouter(include_in_schema=False)

# A page that holds a token refuses to be framed, and runs only its own scripts.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get("/console")
async def console_page() -> FileResponse:
    return FileResponse(CONSOLE_FILES / "index.html", headers=_HEADERS)


@router.get("/console/config.json")
async def console_config(state: State) -> dict[str, Any]:
    """What the page needs to know: a map tile URL, if one is configured."""
    return {"tile_url": state.settings.console_tile_url}


static = StaticFiles(directory=CONSOLE_FILES)
