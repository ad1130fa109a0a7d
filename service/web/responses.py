"""What every route's OpenAPI declares: the error answers it can give, and paging bounds."""

import re
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from service.errors import ErrorBody

MAX_OFFSET = 1_000_000  # deeper paging than this is a mistake or an attack
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _written_in_digits(value: object) -> object:
    # A query's numbers arrive as text, and pydantic would read "1.0", " 5", "+5" and
    # "5_0" (50) as whole numbers: a client that wrote those meant something else.
    if type(value) is int or (isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value)):
        return value
    raise PydanticCustomError("whole_number", "must be a whole number written in digits")


Limit = Annotated[
    int,
    BeforeValidator(_written_in_digits),
    Query(ge=1, le=500, description="At most this many (1 to 500)."),
]
Offset = Annotated[
    int,
    BeforeValidator(_written_in_digits),
    Query(ge=0, le=MAX_OFFSET, description=f"Skip this many first (at most {MAX_OFFSET:,})."),
]

_DESCRIPTIONS = {
    401: "No token, or an unknown, revoked or expired one.",
    403: "The token's role may not do this.",
    404: "Not found in this agency (or not visible to this token).",
    409: "The resource is not in a state that allows this.",
    413: "The body is larger than `CORESPOND_MAX_BODY_BYTES`.",
    422: "`ValidationError`: the request does not fit the schema (a body that is not "
    "JSON too), or a rule refused it; `detail` says which field or rule, and why.",
    429: "Too many requests from this token; wait for `Retry-After` seconds.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route can answer (every `/v1` route
    can answer 401, 413, 422 and 429)."""
    return {
        c: {"model": ErrorBody, "description": _DESCRIPTIONS[c]}
        for c in sorted({401, 413, 422, 429, *codes})
    }
