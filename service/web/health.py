"""Liveness and readiness. (Prometheus metrics have a listener of their own, not the
API's port: see `service.app.serve_metrics`.)"""

from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.errors import say
from service.store.transaction import Tx
from service.web.deps import State
from service.web.state import AppState

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "The database or the bus does not answer; says which."}},
)
async def readyz(state: State) -> JSONResponse:
    """The process can serve: the database answers, and the bus reaches the other
    replicas. (A replica whose bus is down still serves its own consoles, which
    catch up from the log; a load balancer should prefer the others.)"""

    def ping(tx: Tx) -> None:
        tx.session.execute(text("SELECT 1"))

    report = {"database": "ok", "bus": "ok"}
    try:
        await state.uow.read(ping)
    except Exception as exc:  # any failure means not ready; say which
        report["database"] = say(exc)
    try:
        await state.bus.check()
    except Exception as exc:
        report["bus"] = say(exc)
    ready = report == {"database": "ok", "bus": "ok"}
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **report, "bus_url": _safe(state)},
        status_code=200 if ready else 503,
    )


def _safe(state: AppState) -> str:
    """The bus URL without a password."""
    parts = urlsplit(state.settings.bus_url)
    if parts.password is None:
        return state.settings.bus_url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()
