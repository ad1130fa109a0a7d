"""Calls, the plans made for them, and the assignments of responders to them."""

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import Index, String, text
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime, UTCMoment, utcnow
from models.responder import LanguageTag, Latitude, Longitude
from models.vocabulary import AssignmentState, CallStatus, Category, Disposition, ResponderKind

MAX_CALL_AGE = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)  # a CAD's clock may run a little ahead of ours
_ACTIVE = "state IN ('offered', 'accepted', 'en_route', 'on_scene')"


class Call(SQLModel, table=True):
    __table_args__ = (Index("ux_call_external_id", "agency_id", "external_id", unique=True),)

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    external_id: str | None = sqlmodel.Field(default=None, max_length=128)
    lat: float
    lon: float
    address: str | None = sqlmodel.Field(default=None, max_length=500)
    category: Category = sqlmodel.Field(sa_type=String(32))
    weapon: bool = False
    violence: bool = False
    medical: bool = False
    priority: int
    narrative: str | None = None
    language: str | None = sqlmodel.Field(default=None, max_length=35)
    status: CallStatus = sqlmodel.Field(sa_type=String(16))
    plan_mode: str = sqlmodel.Field(max_length=16)
    plan_reason: str = sqlmodel.Field(max_length=500)
    plan_ems: bool = False
    plan_roles: list[dict[str, Any]] = sqlmodel.Field(sa_column=Column(JSON, nullable=False))
    disposition: Disposition | None = sqlmodel.Field(default=None, sa_type=String(32))
    received_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    created_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))


class Assignment(SQLModel, table=True):
    __table_args__ = (
        # The database itself refuses a second active assignment for a responder,
        # and a second active assignment for one role of one call.
        Index(
            "ux_assignment_active_responder",
            "responder_id",
            unique=True,
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
        Index("ix_assignment_offer_deadline", "state", "offer_expires_at"),
        Index(
            "ux_assignment_active_role",
            "call_id",
            "role",
            unique=True,
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
    )

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    call_id: uuid.UUID = sqlmodel.Field(foreign_key="call.id", index=True)
    responder_id: uuid.UUID = sqlmodel.Field(foreign_key="responder.id", index=True)
    role: str = sqlmodel.Field(max_length=32)
    state: AssignmentState = sqlmodel.Field(sa_type=String(16))
    eta_s: float
    distance_m: float
    offered_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    offer_expires_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    accepted_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    en_route_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    on_scene_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    cleared_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    ended_at: datetime | None = sqlmodel.Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="When it was declined, expired or cancelled.",
    )


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Latitude
    lon: Longitude
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class Risk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Strict: `true` or `false`, never "yes", "1" or 1 (a guess at a weapon is no answer).
    weapon: bool = Field(default=False, strict=True)
    violence: bool = Field(default=False, strict=True)
    medical: bool = Field(default=False, strict=True)


class CallCreate(BaseModel):
    """A behavioural-health call, as the dispatcher or the CAD classified it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "CAD-2026-118204",
                    "location": {"lat": 40.1215, "lon": -75.3399, "address": "1 Main St"},
                    "category": "mental_health_crisis",
                    "risk": {"weapon": True, "violence": False, "medical": False},
                    "priority": 2,
                    "narrative": "Caller's brother is agitated and holding a kitchen knife.",
                    "language": "es",
                }
            ]
        },
    )

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The CAD's incident number; unique within the agency."
    )
    location: Location
    category: Category
    risk: Risk = Field(default_factory=Risk)
    priority: int = Field(
        ge=1, le=4, strict=True, description="1 is the most urgent (a JSON integer)."
    )
    narrative: Annotated[str, StringConstraints(max_length=10_000)] | None = Field(
        default=None, description="Sensitive: shown only to those who need it."
    )
    language: LanguageTag | None = Field(
        default=None, description="The person's preferred language (BCP 47, e.g. `es`)."
    )
    received_at: UTCMoment | None = Field(
        default=None,
        description="When the call was received, with its offset; defaults to now. "
        "At most a week ago and not in the future.",
    )

    @field_validator("received_at")
    @classmethod
    def _recent(cls, value: datetime | None) -> datetime | None:
        if value is not None and not (utcnow() - MAX_CALL_AGE <= value <= utcnow() + CLOCK_SKEW):
            raise ValueError("must be within the last 7 days and not in the future")
        return value


class ProgressUpdate(BaseModel):
    """A responder's progress on an accepted assignment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "cleared", "disposition": "referred"}]},
    )

    status: Literal["en_route", "on_scene", "cleared"]
    disposition: Disposition | None = Field(
        default=None,
        description="How the call ended; required from the last responder to clear, "
        "whose clearing closes the call.",
    )


class CallCancel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "caller called back: fine"}]}
    )

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class RolePublic(BaseModel):
    role: str
    kind: ResponderKind
    cit_required: bool
    preferred_skills: list[str]


class PlanPublic(BaseModel):
    mode: str
    roles: list[RolePublic]
    ems: bool
    reason: str
    missing: list[str] = Field(description="Roles nobody is offered or assigned to yet.")


class AssignmentPublic(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    responder_id: uuid.UUID
    role: str
    state: AssignmentState
    eta_s: float
    distance_m: float
    offered_at: datetime
    offer_expires_at: datetime
    accepted_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cleared_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, row: Assignment) -> "AssignmentPublic":
        return cls.model_validate(row, from_attributes=True)


class CallPublic(BaseModel):
    id: uuid.UUID
    external_id: str | None
    location: Location
    category: Category | None = Field(
        description="`null` when withheld from this token: substance use is not shown to "
        "officers unless the agency allows it (42 CFR Part 2)."
    )
    risk: Risk
    priority: int
    narrative: str | None = Field(
        description="Only for those who need it: staff and CAD, and a responder once it "
        "accepted (an officer only where the agency allows it)."
    )
    language: str | None
    status: CallStatus
    plan: PlanPublic
    assignments: list[AssignmentPublic]
    disposition: Disposition | None
    received_at: datetime
    created_at: datetime
    closed_at: datetime | None
    withheld: list[str] = Field(
        default_factory=list,
        description="The fields this token may not see (`narrative`, `category`): they "
        "read `null` here although the call has them.",
    )


def call_date(call: Call) -> date:
    return call.received_at.date()
