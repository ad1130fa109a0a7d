"""The outcome report (issue 21): its figures as the API answers them, the diversion
table every figure of diversion is computed from, and the on-duty periods responder
utilisation needs (docs/outcomes.md, "The figures", defines each)."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Index
from sqlmodel import SQLModel

from models.columns import UTCDateTime
from models.vocabulary import Disposition

# The one diversion table: code, tests and docs/outcomes.md read it (a test compares the
# docs' table with this one). True: diverted; False: not; None: left out of the rate.
DIVERSION: dict[Disposition, bool | None] = {
    Disposition.resolved_on_scene: True,
    Disposition.referred: True,
    Disposition.transported_crisis_centre: True,
    Disposition.voluntary_hold: False,
    Disposition.transported_ed: False,
    Disposition.involuntary_hold: False,
    Disposition.arrest: False,
    Disposition.no_contact: None,
}

SMALL_CELL = "<5"  # what a grouped count from 1 to 4 shows instead of itself

Count = int | str
"""A count: exact in the whole agency's figures; in a group, `"<5"` for 1 to 4."""


class GroupBy(StrEnum):
    week = "week"
    month = "month"
    team = "team"
    category = "category"
    area = "area"


class DutyPeriod(SQLModel, table=True):
    """One stretch of a responder's time on duty (any status but `off_duty`): opened
    when they come on duty, closed when they go off (service/responders, set_status)."""

    __tablename__ = "duty_period"
    __table_args__ = (
        Index("ix_duty_period_agency_started", "agency_id", "started_at"),
        Index("ix_duty_period_responder_ended", "responder_id", "ended_at"),
    )

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    responder_id: uuid.UUID = sqlmodel.Field(foreign_key="responder.id")
    started_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    ended_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)


class Share(BaseModel):
    """`count` of `of`, and `rate` = count / of (null when `of` is 0 or either is `<5`)."""

    count: Count
    of: Count
    rate: float | None


class TimeFigure(BaseModel):
    """Seconds over the calls that have both ends of the time (nearest-rank percentiles;
    null when there are none, or fewer than 5 in a group)."""

    count: Count
    p50_s: float | None
    p90_s: float | None


class Times(BaseModel):
    to_offer: TimeFigure
    to_accept: TimeFigure
    to_on_scene: TimeFigure
    on_scene: TimeFigure
    total: TimeFigure


class Volume(BaseModel):
    by_category: dict[str, Count]
    by_priority: dict[str, Count]


class Eligibility(BaseModel):
    eligible: Count = Field(description="Calls eligible for a rule: every call reported.")
    served: Share = Field(
        description="Those that got the team of every rule they were eligible for."
    )
    unserved_by_reason: dict[str, Count]


class Rates(BaseModel):
    """Each of the calls that closed with a disposition."""

    arrest: Share
    involuntary_hold: Share
    emergency_department: Share
    police_backup: Share
    diverted_from_arrest: Share


class Referrals(BaseModel):
    by_resource: dict[str, Count] = Field(description="By the resource's name.")
    free_text: Count


class FollowUpFigure(BaseModel):
    needed: Count = Field(description="Calls whose close asked for follow-up.")
    completed_within_due: Share = Field(
        description="Their follow-up tasks completed by the due time, of those opened."
    )


class RepeatContacts(BaseModel):
    window_days: int
    people: Share = Field(
        description="Of the calls that named a person, those whose intake found another call "
        "about the same person in the window before."
    )
    places: Share = Field(
        description="Of the calls, those whose intake found another call at the same place "
        "(H3 cell) in the window before."
    )


class Utilisation(BaseModel):
    on_duty_s: float
    busy_s: float
    rate: float | None


class Figures(BaseModel):
    calls: Count
    statuses: dict[str, Count] = Field(description="closed, cancelled, referred.")
    volume: Volume
    eligibility: Eligibility
    times: Times
    dispositions: dict[str, Count]
    diversion: Share
    rates: Rates
    referrals: Referrals
    follow_up: FollowUpFigure
    repeat_contacts: RepeatContacts
    utilisation: Utilisation | None = Field(
        description="For the whole agency and by week or month; null by team, category or area."
    )


class GroupFigures(Figures):
    key: str


class OutcomeReport(Figures):
    """The agency's figures for calls received in [from, to), exact; with `group_by`, the
    same figures a group in `groups`, small cells suppressed."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    group_by: GroupBy | None
    groups: list[GroupFigures] | None
