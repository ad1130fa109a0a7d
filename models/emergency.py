"""A responder's emergency (issue 23): raised by the responder (or staff for them), shown
to every dispatcher, supervisor and admin of the agency, closed only by one of them."""

import uuid
from datetime import datetime
from typing import Annotated, Self

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import Index, String, text
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime
from models.responder import Latitude, Longitude, Position

_OPEN = "closed_at IS NULL"
# The plan of a call made for an emergency (its responder on no call), as the board
# reads it: the rule and team no programme has, whose seats are the backup.
EMERGENCY_RULE = "responder emergency"
EMERGENCY_TEAM = "emergency backup"


class Emergency(SQLModel, table=True):
    __table_args__ = (
        # The database itself refuses a second open emergency for one responder: two
        # raises at once (a double press, the socket and HTTP) make one.
        Index(
            "ux_emergency_open_responder",
            "responder_id",
            unique=True,
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
        Index("ix_emergency_agency_raised", "agency_id", "raised_at"),
    )

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    responder_id: uuid.UUID = sqlmodel.Field(foreign_key="responder.id")
    # The responder's call when it was raised, or the emergency call made for it.
    call_id: uuid.UUID | None = sqlmodel.Field(default=None, foreign_key="call.id")
    call_made: bool = False
    note: str | None = sqlmodel.Field(default=None, max_length=500)
    # Where the responder was when it was raised (the responder's row has the latest).
    lat: float | None = None
    lon: float | None = None
    position_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    backup: list[str] = sqlmodel.Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    backup_wanted: int = 0
    backup_missing: str | None = sqlmodel.Field(default=None, max_length=300)
    raised_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    raised_by: str = sqlmodel.Field(sa_type=String(200))
    closed_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    closed_by: str | None = sqlmodel.Field(default=None, max_length=200)


class EmergencyRaise(BaseModel):
    """An emergency raised; every field optional (an empty body, or none, will do)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{}, {"note": "man with a knife at the door", "lat": 40.12, "lon": -75.34}]
        },
    )

    note: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = Field(default=None, description="What the responder could say, if anything.")
    lat: Latitude | None = Field(default=None, description="Where the responder is (with lon).")
    lon: Longitude | None = Field(default=None, description="Where the responder is (with lat).")

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give lat and lon together, or neither")
        return self


class EmergencyResponder(BaseModel):
    id: uuid.UUID
    name: str
    external_id: str | None
    kind: str


class EmergencyPublic(BaseModel):
    id: uuid.UUID
    responder: EmergencyResponder
    position: Position | None = Field(
        description="The responder's last known position (updated by their position reports)."
    )
    call_id: uuid.UUID | None = Field(
        description="The responder's call, or the emergency call made at their position."
    )
    call_made: bool = Field(description="True when `call_id` is an emergency call made for it.")
    raised_at: datetime
    raised_by: str = Field(description="Who raised it: the responder, or staff for them.")
    note: str | None
    backup: list[uuid.UUID] = Field(description="The backup offers made (assignment ids).")
    backup_wanted: int = Field(description="How many the agency asks for.")
    backup_missing: str | None = Field(
        description="Why fewer were offered than wanted (no CIT officer available, no "
        "position known), or null."
    )
    position_interval_s: int = Field(description="How often the responder is asked for position.")
    closed_at: datetime | None
    closed_by: str | None
