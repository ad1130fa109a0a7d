"""An agency's programme, version by version, and the ledger of the calls it did not serve."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Index, String
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime, utcnow


class ProgrammeVersion(SQLModel, table=True):
    """One version of an agency's programme document; never changed once written."""

    __tablename__ = "programme_version"

    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id", primary_key=True)
    version: int = sqlmodel.Field(primary_key=True)
    document: dict[str, Any] = sqlmodel.Field(sa_column=Column(JSON, nullable=False))
    set_by: str = sqlmodel.Field(max_length=200)
    set_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)


class RulesPublic(BaseModel):
    version: int
    set_by: str = Field(
        description="Who set it: `<role> token <token id>`, `command line`, or how it came "
        "to be (an agency's creation, a migration)."
    )
    set_at: datetime
    document: dict[str, Any] = Field(description="The programme; PUT accepts it back unchanged.")


class RulesVersion(BaseModel):
    version: int
    set_by: str
    set_at: datetime


class UnservedReason(StrEnum):
    """Why an eligible call did not get the team of a rule it was eligible for."""

    no_team_available = "no_team_available"  # no responder could fill a seat
    all_declined = "all_declined"  # every responder offered a seat declined it
    outside_hours = "outside_hours"  # failed the rule only on its hours
    outside_area = "outside_area"  # failed the rule only on its area
    escalated_by_risk = "escalated_by_risk"  # a risk flag changed on an update
    cancelled = "cancelled"  # stood down before the team was complete
    fallback_after_timeout = "fallback_after_timeout"  # seats still empty at the deadline


class Unserved(SQLModel, table=True):
    """One call unserved by one rule it was eligible for, and why: at most one a rule."""

    __table_args__ = (
        Index("ux_unserved_call_rule", "call_id", "rule", unique=True),
        Index("ix_unserved_agency_received", "agency_id", "received_at"),
    )

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    call_id: uuid.UUID = sqlmodel.Field(foreign_key="call.id")
    programme_version: int
    rule: str = sqlmodel.Field(max_length=100)
    team: str = sqlmodel.Field(max_length=64, description="The team the rule would have sent.")
    reason: UnservedReason = sqlmodel.Field(sa_type=String(32))
    hour_of_week: int = sqlmodel.Field(description="0 is Monday 00:00 in the programme's zone.")
    received_at: datetime = sqlmodel.Field(sa_type=UTCDateTime, description="The call's.")
    recorded_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)


class UnservedCall(BaseModel):
    call_id: uuid.UUID
    rule: str
    team: str
    reason: UnservedReason
    received_at: datetime
    recorded_at: datetime


class HourCount(BaseModel):
    day: str = Field(description="mon … sun, in the programme's zone.")
    hour: int
    count: int


class UnservedReport(BaseModel):
    """Eligible calls received in [from, to) that did not get a rule's team, counted."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    total: int
    by_reason: dict[str, int]
    by_rule: dict[str, int]
    by_hour_of_week: list[HourCount]
    calls: list[UnservedCall] | None = Field(
        description="The calls behind the counts, for supervisors, admins and dispatchers; "
        "`null` for other roles."
    )
