"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from service.deps import State
from service.unit_of_work import Tx

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer."}})
async def readyz(state: State) -> JSONResponse:
    """The process can serve: the database answers."""

    def ping(tx: Tx) -> None:
        tx.session.execute(text("SELECT 1"))

    try:
        await state.uow.read(ping)
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "bus": state.settings.bus_url})


@router.get("/metrics", response_class=Response)
async def metrics(state: State) -> Response:
    """Prometheus exposition."""
    state.metrics.consoles.set(state.hub.console_count)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
