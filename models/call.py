"""Calls, the plans made for them, and the assignments of responders to them."""

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import sqlmodel
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import Index, String, Text, text
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime, UTCMoment, utcnow
from models.contact import Contacts, Person
from models.outcome import CloseDetails
from models.programme import AgeGroup
from models.responder import LanguageTag, Latitude, Longitude
from models.vocabulary import AssignmentState, CallStatus, Category, Disposition, OfferPurpose

MAX_CALL_AGE = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)  # a CAD's clock may run a little ahead of ours
_ACTIVE = "state IN ('offered', 'accepted', 'en_route', 'on_scene')"


class Call(SQLModel, table=True):
    __table_args__ = (
        Index("ux_call_external_id", "agency_id", "external_id", unique=True),
        Index("ix_call_fallback_at", "plan_fallback_at"),
    )

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
    age_group: str | None = sqlmodel.Field(default=None, max_length=16)
    status: CallStatus = sqlmodel.Field(sa_type=String(16))
    programme_version: int = sqlmodel.Field(default=1, sa_column_kwargs={"server_default": "1"})
    plan_rule: str = sqlmodel.Field(max_length=100)
    plan_team: str = sqlmodel.Field(max_length=64)
    plan_reason: str = sqlmodel.Field(sa_type=Text)
    plan_ems: bool = False
    # Where the road changed a seat's choice ("clinician: chose … over …"): it names
    # colleagues and where they are, so staff read it with the reason; responders not.
    plan_travel: str | None = sqlmodel.Field(default=None, sa_type=Text)
    # The team's seats as roles: [{role, kind, cit_required, preferred_skills, prefer_language}]
    plan_roles: list[dict[str, Any]] = sqlmodel.Field(sa_column=Column(JSON, nullable=False))
    # The fallbacks still to come, [{after_s, team, roles}], the next due at plan_fallback_at;
    # and those taken, [{from, to, reason, at}].
    plan_fallback: list[dict[str, Any]] = sqlmodel.Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    plan_fallback_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    plan_taken: list[dict[str, Any]] = sqlmodel.Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    disposition: Disposition | None = sqlmodel.Field(default=None, sa_type=String(32))
    received_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    created_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    # Earlier calls within the repeat-contact window that shared this call's person (None:
    # it named nobody) and its place, counted at intake (models.contact).
    repeat_person: int | None = None
    repeat_place: int | None = None
    repeat_window_days: int | None = None
    # What the CAD's last EIDO for this incident carried that no column holds, verbatim,
    # by JSON path ({"$.callComponent": [...]}): the EIDO's own timestamps among it.
    eido_kept: dict[str, Any] | None = sqlmodel.Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


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
    team: str = sqlmodel.Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    state: AssignmentState = sqlmodel.Field(sa_type=String(16))
    eta_s: float
    distance_m: float
    travel_by: str = sqlmodel.Field(
        default="straight line",
        max_length=120,
        sa_column_kwargs={"server_default": "straight line"},
    )
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
    disposition: Disposition | None = sqlmodel.Field(default=None, sa_type=String(32))
    purpose: OfferPurpose = sqlmodel.Field(
        default=OfferPurpose.team,
        sa_type=String(16),
        sa_column_kwargs={"server_default": OfferPurpose.team.value},
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
    age_group: AgeGroup | None = Field(
        default=None,
        description="`youth`, `adult` or `older_adult`, when the call says; rules may ask.",
    )
    received_at: UTCMoment | None = Field(
        default=None,
        description="When the call was received, with its offset; defaults to now. "
        "At most a week ago and not in the future.",
    )
    person: Person | None = Field(
        default=None,
        description="Who the call is about, for counting repeat contacts: kept only as keyed "
        "hashes, never as given, and never answered back.",
    )

    @field_validator("received_at")
    @classmethod
    def _recent(cls, value: datetime | None) -> datetime | None:
        if value is not None and not (utcnow() - MAX_CALL_AGE <= value <= utcnow() + CLOCK_SKEW):
            raise ValueError("must be within the last 7 days and not in the future")
        return value


class PreviewRequest(CallCreate):
    """A call's body as for `POST /v1/calls`, and when to plan it for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "location": {"lat": 40.12, "lon": -75.34},
                    "category": "mental_health_crisis",
                    "priority": 2,
                    "at": "2026-12-07T10:00:00-05:00",
                }
            ]
        },
    )

    at: UTCMoment | None = Field(
        default=None, description="Any time, past or future, with its offset; default now."
    )


class RiskUpdate(BaseModel):
    """The flags that changed; a flag left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    weapon: bool | None = Field(default=None, strict=True)
    violence: bool | None = Field(default=None, strict=True)
    medical: bool | None = Field(default=None, strict=True)

    @model_validator(mode="after")
    def _no_nulls(self) -> "RiskUpdate":
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} is true or false; leave it out to keep it")
        return self


class CallUpdate(BaseModel):
    """What a dispatcher or the CAD learned since intake. Only the fields given change;
    `narrative`, `language` and `age_group` may be set to null to clear them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"risk": {"weapon": True}, "narrative": "He now has a knife."}]
        },
    )

    category: Category | None = None
    risk: RiskUpdate | None = None
    priority: int | None = Field(default=None, ge=1, le=4, strict=True)
    narrative: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    language: LanguageTag | None = None
    age_group: AgeGroup | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> "CallUpdate":
        if not self.model_fields_set:
            raise ValueError(
                "nothing to change: give at least one of category, risk, priority, "
                "narrative, language, age_group"
            )
        for name in ("category", "risk", "priority"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        if self.risk is not None and not self.risk.model_fields_set:
            raise ValueError("risk names no flag: give weapon, violence or medical")
        return self


class ProgressUpdate(CloseDetails):
    """A responder's progress on an accepted assignment; the last clear may carry the
    close's parts (`CloseDetails`: backup, referral, destination, follow-up)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "cleared", "disposition": "referred"},
                {
                    "status": "cleared",
                    "disposition": "transported_crisis_centre",
                    "destination_id": "0b6f3c5e-7a51-4a8e-9d57-2f0c1e0f4a11",
                    "backup_requested": False,
                    "follow_up": {"within_h": 24},
                },
            ]
        },
    )

    status: Literal["en_route", "on_scene", "cleared"]
    disposition: Disposition | None = Field(
        default=None,
        description="How the call ended; required from the last responder to clear, "
        "whose clearing closes the call. An earlier clear's is kept with its assignment.",
    )

    def close_details(self) -> CloseDetails:
        """The close's parts as sent (those left out stay unset)."""
        given = self.model_fields_set & set(CloseDetails.model_fields)
        return CloseDetails.model_construct(given, **{n: getattr(self, n) for n in given})


class CallCancel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "caller called back: fine"}]}
    )

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SeatPublic(BaseModel):
    role: str = Field(description="The seat's kind; `clinician_2` for a team's second clinician.")
    kind: str
    cit: bool = Field(description="Needs a CIT certification valid on the call's day.")
    prefer_skills: list[str]
    prefer_language: bool


class FallbackPublic(BaseModel):
    after_s: int = Field(description="Seconds after the team before it was sent.")
    team: str
    seats: list[SeatPublic]


class FallbackTaken(BaseModel):
    from_team: str
    to_team: str
    reason: str = Field(description="`fallback_after_timeout`, `no_team_available`, …")
    at: datetime


class PlanPublic(BaseModel):
    rule: str | None = Field(
        description="The programme's rule that matched; `null` when withheld (it may name "
        "the category)."
    )
    team: str = Field(description="The team sent, or `police`: referred with no team.")
    seats: list[SeatPublic]
    ems: bool
    fallback: list[FallbackPublic] = Field(description="The fallbacks still to come, in order.")
    fallback_at: datetime | None = Field(description="When the next fallback is due.")
    taken: list[FallbackTaken] = Field(description="The fallbacks taken, oldest first.")
    reason: str
    missing: list[str] = Field(description="Roles nobody is offered or assigned to yet.")
    programme_version: int


class PlanPreview(BaseModel):
    """What the agency's programme would send to a call, without dispatching."""

    rule: str
    team: str
    seats: list[SeatPublic]
    ems: bool
    fallback: list[FallbackPublic]
    reason: str
    eligible: list[dict[str, str | None]] = Field(
        description="The rules the call is eligible for, `[{rule, outside}]`; `outside` is "
        "`outside_hours` or `outside_area` for those it misses, null for the one matched."
    )
    at: datetime
    programme_version: int


class AssignmentPublic(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    responder_id: uuid.UUID
    role: str
    team: str
    state: AssignmentState
    eta_s: float
    distance_m: float
    travel_by: str = Field(
        description="What made `eta_s` and `distance_m`: `straight line` (the geodesic "
        "estimate) or the road network (`road graph county.roads`, `OSRM at host:port`)."
    )
    offered_at: datetime
    offer_expires_at: datetime
    accepted_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cleared_at: datetime | None
    ended_at: datetime | None
    disposition: Disposition | None = Field(
        default=None,
        description="The disposition its responder gave on clearing. The call's own is "
        "the last clear's; an earlier clear's (the officer gone, the clinician still "
        "on the call) is kept here.",
    )
    purpose: OfferPurpose = Field(
        default=OfferPurpose.team,
        description="What the offer is for: `team` (a seat of the call's team), "
        "`checkin_backup` (backup for a responder on the call who missed a check-in) or "
        "`emergency_backup` (backup for one who raised an emergency).",
    )

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
    age_group: str | None
    status: CallStatus
    plan: PlanPublic
    assignments: list[AssignmentPublic]
    disposition: Disposition | None
    received_at: datetime
    created_at: datetime
    closed_at: datetime | None
    contacts: Contacts | None = Field(
        default=None,
        description="Earlier calls in the window at this person or place, as counted at "
        "intake; for staff and CAD only.",
    )
    withheld: list[str] = Field(
        default_factory=list,
        description="The fields this token may not see (`narrative`, `category`): they "
        "read `null` here although the call has them.",
    )


def call_date(call: Call) -> date:
    return call.received_at.date()
