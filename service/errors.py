"""One error base, one JSON shape: `{"error": "<Name>", "detail": "…"}`."""

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel


class ErrorBody(BaseModel):
    error: str
    detail: str
    errors: list[dict[str, Any]] | None = None  # each problem, where a request has several


class CoRespondError(Exception):
    """A failure the caller can act on; routes turn it into its HTTP status."""

    status: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def name(self) -> str:
        return type(self).__name__

    def body(self) -> ErrorBody:
        return ErrorBody(error=self.name, detail=self.detail)


class Unauthorized(CoRespondError):
    status = 401


class Forbidden(CoRespondError):
    status = 403


class NotFound(CoRespondError):
    status = 404


class Conflict(CoRespondError):
    status = 409


class Invalid(CoRespondError):
    """A rule refused the request (clearing without a disposition, a status that follows
    from assignments). Clients see it as every 422: `ValidationError`, the request as sent
    will never be taken, and `detail` says why."""

    status = 422

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors

    @property
    def name(self) -> str:
        return "ValidationError"

    def body(self) -> ErrorBody:
        return ErrorBody(error=self.name, detail=self.detail, errors=self.errors)


class Unavailable(CoRespondError):
    status = 503


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """Pydantic's errors as one line: 'location.lat: Input should be …; priority: …'."""
    parts = []
    for err in errors:
        if err.get("type") == "json_invalid":  # its loc is the character, not a field
            cause = (err.get("ctx") or {}).get("error", "")
            parts.append(f"body: not valid JSON at character {err['loc'][-1]} ({cause})")
            continue
        where = ".".join(
            str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "message")
        )
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def say(exc: BaseException) -> str:
    """An exception in one line, its type first (for logs and health reports)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
