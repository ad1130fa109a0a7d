"""The one place errors become HTTP responses, all in the shape of `ErrorBody`."""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from service.errors import CoRespondError, ErrorBody, describe_errors

_NAMES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "TooLarge",
    429: "TooManyRequests",
}


def _error(status: int, name: str, detail: str) -> JSONResponse:
    return JSONResponse(
        ErrorBody(error=name, detail=detail).model_dump(exclude_none=True), status_code=status
    )


def _say_http(request: Request, exc: HTTPException) -> str:
    """Starlette's own refusals ('Not Found') said with what was asked and where to look."""
    asked = f"{request.method} {request.url.path}"
    if exc.status_code == 404 and exc.detail == "Not Found":
        if request.url.path.startswith("/v1/"):
            return f"no route {asked}: the API's routes are listed at /docs and /openapi.json"
        return (
            f"nothing at {asked}: the API lives under /v1 (listed at /docs and "
            "/openapi.json), the console at /console"
        )
    if exc.status_code == 405 and exc.detail == "Method Not Allowed":
        allowed = allowed_methods(request) or [(exc.headers or {}).get("Allow", "other methods")]
        return f"{asked} is not allowed here; this path takes {', '.join(allowed)}"
    return str(exc.detail)


def _say_unreadable(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return f"body: not valid JSON (not UTF-8 text at byte {cause.start})"
    if isinstance(cause, RecursionError):
        return "body: not valid JSON (nested too deeply)"
    return "body: not valid JSON"


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (the framework's own `Allow` names only
    the first route that matched the path, and `/v1/calls` has a GET route and a POST one)."""
    methods: set[str] = set()
    for route in _routes(request.app.router):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _routes(router: Any) -> Iterator[Any]:
    """The app's routes, with the routers it included opened up (FastAPI keeps each
    included router whole; the app includes every one without a prefix of its own, so
    its routes' paths are whole)."""
    for route in router.routes:
        included = getattr(route, "original_router", None)
        yield from _routes(included) if included is not None else (route,)


def install(app: FastAPI) -> None:
    @app.exception_handler(CoRespondError)
    async def _domain(_: Request, exc: CoRespondError) -> JSONResponse:
        return JSONResponse(exc.body().model_dump(exclude_none=True), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "ValidationError", describe_errors(exc.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI answers 400 for a body that json.loads cannot even begin (not UTF-8,
            # nested past Python's recursion limit) and 422 for one it can (`{`): one rule
            # for both, the 422 that every route documents.
            return _error(422, "ValidationError", _say_unreadable(exc.__cause__))
        name = _NAMES.get(exc.status_code, "HTTPError")
        response = _error(exc.status_code, name, _say_http(request, exc))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schema let through (PostgreSQL takes no NUL
        # character in text, for one); the transaction was rolled back.
        return _error(422, "ValidationError", f"a value was refused: {exc.orig}")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _error(500, "InternalError", "an unexpected error; it was logged, nothing was saved")
