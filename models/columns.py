"""Column types shared by the tables, and the date and time types of the API's input."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as pydantic writes datetimes in the HTTP answers."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


_ISO_8601 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_8601_text(example: str) -> BeforeValidator:
    # Pydantic would also take a number, or a numeric string, as seconds since 1970:
    # `0.5` would be a moment in 1970 and `0` a date. Neither is what a client meant.
    def check(value: object) -> object:
        if isinstance(value, date) or (isinstance(value, str) and _ISO_8601.match(value)):
            return value
        raise PydanticCustomError(
            "iso_8601", "must be ISO 8601 text, e.g. {example}", {"example": example}
        )

    return BeforeValidator(check)


UTCMoment = Annotated[
    AwareDatetime, _iso_8601_text("2026-05-01T14:30:00Z"), AfterValidator(_in_utc)
]
"""A time in an API input: ISO 8601 text with its offset (`…Z` or `…+01:00`), kept as
UTC; never a bare number."""

IsoDate = Annotated[date, _iso_8601_text("2027-06-30")]
"""A day in an API input: ISO 8601 text (`2027-06-30`); never a bare number."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return (
            value.astimezone(UTC)
            if dialect.name != "sqlite"
            else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
