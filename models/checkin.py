"""Check-ins (issue 23): the on-scene timer of one assignment, one row a check-in.

A row is `scheduled` (due at `due_at`), `due` (prompted; the responder must check in),
then `done`, `missed` (no check-in by `grace_until`: the alarm, open until a dispatcher
acknowledges it) or `ended` (the assignment left the scene first). A live row
(scheduled or due) is unique per assignment.
"""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Column, Index, String, text
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.columns import UTCDateTime

CheckinState = Literal["scheduled", "due", "done", "missed", "ended"]
LIVE_STATES = ("scheduled", "due")
_LIVE = "state IN ('scheduled', 'due')"


class Checkin(SQLModel, table=True):
    __table_args__ = (
        Index("ix_checkin_due", "state", "due_at"),
        Index("ix_checkin_grace", "state", "grace_until"),
        Index("ix_checkin_alarm", "agency_id", "missed_at"),
        # The database refuses a second live timer for one assignment (two replicas).
        Index(
            "ux_checkin_live",
            "assignment_id",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = SQLField(foreign_key="agency.id")
    assignment_id: uuid.UUID = SQLField(foreign_key="assignment.id", index=True)
    responder_id: uuid.UUID = SQLField(foreign_key="responder.id")
    call_id: uuid.UUID = SQLField(foreign_key="call.id")
    state: str = SQLField(sa_type=String(16))
    due_at: datetime = SQLField(sa_type=UTCDateTime)
    grace_until: datetime = SQLField(sa_type=UTCDateTime)
    prompted_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime))
    done_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime))
    done_by: str | None = SQLField(default=None, max_length=200)
    missed_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime))
    rule: str | None = SQLField(default=None, max_length=16)
    backup: list[str] | None = SQLField(default=None, sa_column=Column(JSON, nullable=True))
    acknowledged_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime))
    acknowledged_by: str | None = SQLField(default=None, max_length=200)
    ended_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime))


class CheckinPublic(BaseModel):
    """A check-in as events and answers carry it."""

    id: uuid.UUID
    assignment_id: uuid.UUID
    responder_id: uuid.UUID
    call_id: uuid.UUID
    state: str = Field(description="`scheduled`, `due`, `done`, `missed` or `ended`.")
    due_at: datetime = Field(description="When the responder must check in (the prompt).")
    grace_until: datetime = Field(
        description="No check-in by then: the alarm (`checkin.missed`) and the agency's rule."
    )
    done_at: datetime | None = None
    by: str | None = Field(default=None, description="Who checked in (a principal's label).")
    missed_at: datetime | None = None
    rule: str | None = Field(default=None, description="The rule applied when it was missed.")
    backup: list[uuid.UUID] | None = Field(
        default=None, description="The backup assignments offered when it was missed."
    )
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @classmethod
    def of(cls, row: Checkin) -> "CheckinPublic":
        return cls(
            id=row.id,
            assignment_id=row.assignment_id,
            responder_id=row.responder_id,
            call_id=row.call_id,
            state=row.state,
            due_at=row.due_at,
            grace_until=row.grace_until,
            done_at=row.done_at,
            by=row.done_by,
            missed_at=row.missed_at,
            rule=row.rule,
            backup=[uuid.UUID(b) for b in row.backup] if row.backup else None,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
        )


class CheckinDone(BaseModel):
    """The answer to a check-in: the check-in, and when the next is due (null when the
    agency has check-ins off)."""

    checkin: CheckinPublic
    next_due_at: datetime | None


class CheckinBody(BaseModel):
    """A check-in's optional body."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})

    note: str | None = Field(default=None, max_length=500, description="Not kept; reserved.")


class AlarmResponder(BaseModel):
    id: uuid.UUID
    name: str
    external_id: str | None
    kind: str
    position: dict[str, float | str | None] | None = Field(
        description="`{lat, lon, at}`: the last known position, or null."
    )


class AlarmCall(BaseModel):
    id: uuid.UUID
    address: str | None
    lat: float
    lon: float


class CheckinAlarm(BaseModel):
    """A check-in on a dispatcher's list (`GET /v1/checkins?open=true`): as the
    `checkin.missed` event carries it."""

    checkin: CheckinPublic
    responder: AlarmResponder
    call: AlarmCall
