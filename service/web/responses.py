"""What every route's OpenAPI declares: the error answers it can give, and paging bounds."""

from typing import Any

from service.errors import ErrorBody

MAX_OFFSET = 1_000_000  # deeper paging than this is a mistake or an attack

_DESCRIPTIONS = {
    401: "No token, or an unknown, revoked or expired one.",
    403: "The token's role may not do this.",
    404: "Not found in this agency (or not visible to this token).",
    409: "The resource is not in a state that allows this.",
    413: "The body is larger than `CORESPOND_MAX_BODY_BYTES`.",
    422: "The request is malformed; `detail` says which field and why.",
    429: "Too many requests from this token; wait for `Retry-After` seconds.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route can answer (every `/v1` route
    can answer 401, 413, 422 and 429)."""
    return {
        c: {"model": ErrorBody, "description": _DESCRIPTIONS[c]}
        for c in sorted({401, 413, 422, 429, *codes})
    }
