"""HTTP and WebSocket routes: parse, authorise through the service layer, answer."""

from typing import Any

from service.errors import ErrorBody

MAX_OFFSET = 1_000_000  # deeper paging than this is a mistake or an attack

_DESCRIPTIONS = {
    401: "No token, or an unknown, revoked or expired one.",
    403: "The token's role may not do this.",
    404: "Not found in this agency (or not visible to this token).",
    409: "The resource is not in a state that allows this.",
    422: "The request is malformed; `detail` says which field and why.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route can answer."""
    return {c: {"model": ErrorBody, "description": _DESCRIPTIONS[c]} for c in (401, 422, *codes)}
