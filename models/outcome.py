"""A call's close record (issue 21): what the figures a programme reports are computed
from, kept by the transaction that closes the call, so a year's figures never depend on
the event log (purged after its retention).

One row a closed, cancelled or referred call. The capture (service/outcomes, the close path) writes
it; the reports read it, and nothing else, for every figure but the unserved ledger
(models/rules.Unserved) and responder utilisation. Beside it: the follow-up task a close
may open (`FollowUp`), and the close's parts as the API takes them.
"""

import uuid
from datetime import datetime
from typing import Annotated

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import BigInteger, Index, String
from sqlmodel import SQLModel

from models.columns import UTCDateTime, UTCMoment, utcnow
from models.vocabulary import Category, Disposition, FollowUpOutcome, FollowUpState


class CallOutcome(SQLModel, table=True):
    __tablename__ = "call_outcome"
    __table_args__ = (
        # Every report is one agency over a period of received_at.
        Index("ix_call_outcome_agency_received", "agency_id", "received_at"),
    )

    call_id: uuid.UUID = sqlmodel.Field(foreign_key="call.id", primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    # The call as classified when it closed.
    category: Category = sqlmodel.Field(sa_type=String(32))
    priority: int
    age_group: str | None = sqlmodel.Field(default=None, max_length=16)
    team: str = sqlmodel.Field(max_length=64, description="The team on the call at its close.")
    rule: str = sqlmodel.Field(max_length=100, description="The programme rule it matched.")
    area: str | None = sqlmodel.Field(
        default=None, max_length=100, description="The programme area it lay in, if any."
    )
    place_cell: int | None = sqlmodel.Field(
        default=None,
        sa_type=BigInteger,  # an H3 index takes 64 bits
        description="The call's H3 cell (resolution 8): where, for maps of the figures.",
    )
    # Earlier calls in the repeat-contact window at the same person (None: the call named
    # nobody) and place, as its intake counted them (models.contact): never a person.
    repeat_person: int | None = None
    repeat_place: int | None = None
    # When, each the first of its kind across the call's assignments (None: never).
    received_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    first_offer_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)
    first_accept_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)
    first_on_scene_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    # How it ended: None for a call cancelled or referred to police without a close.
    status: str = sqlmodel.Field(max_length=16, description="closed, cancelled or referred.")
    disposition: Disposition | None = sqlmodel.Field(default=None, sa_type=String(32))
    officer_on_call: bool = False
    backup_requested: bool = False
    backup_requested_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)
    destination_id: uuid.UUID | None = sqlmodel.Field(
        default=None, description="The resource a transported_* disposition took them to."
    )
    referral_id: uuid.UUID | None = sqlmodel.Field(default=None, description="A resource.")
    referral_text: str | None = sqlmodel.Field(default=None, max_length=500)
    follow_up_due_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)
    recorded_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)


class FollowUp(SQLModel, table=True):
    """A task after a call whose close asked for follow-up, due `within_h` hours after
    it. The reports count one completed within its due time (`completed_at <= due_at`)."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_agency_state_due", "agency_id", "state", "due_at"),)

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    call_id: uuid.UUID = sqlmodel.Field(foreign_key="call.id", unique=True)
    state: FollowUpState = sqlmodel.Field(sa_type=String(16))
    opened_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    due_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    responder_id: uuid.UUID | None = sqlmodel.Field(default=None, foreign_key="responder.id")
    claimed_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = sqlmodel.Field(default=None, sa_type=UTCDateTime)
    outcome: FollowUpOutcome | None = sqlmodel.Field(default=None, sa_type=String(16))


# What a close carries besides its disposition: on the last clear (models.call.ProgressUpdate)
# or added afterwards by a dispatcher (OutcomeAmend).


class Referral(BaseModel):
    """Where the person was referred: a resource of the agency's directory, or free text."""

    model_config = ConfigDict(extra="forbid")

    resource_id: uuid.UUID | None = None
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | (
        None
    ) = None

    @model_validator(mode="after")
    def _one(self) -> "Referral":
        if (self.resource_id is None) == (self.text is None):
            raise ValueError("give either resource_id (from the directory) or text, not both")
        return self


class FollowUpAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    within_h: int = Field(ge=1, le=720, strict=True, description="Due this many hours after.")


class CloseDetails(BaseModel):
    """The close's optional parts, each as on the last clear."""

    backup_requested: bool | None = Field(
        default=None, strict=True, description="Police backup was requested on scene."
    )
    backup_requested_at: UTCMoment | None = Field(
        default=None, description="When backup was requested (default: the close)."
    )
    referral: Referral | None = None
    destination_id: uuid.UUID | None = Field(
        default=None,
        description="The resource a `transported_*` disposition took the person to: an "
        "`emergency_department` for `transported_ed`, a `crisis_centre` for "
        "`transported_crisis_centre`.",
    )
    follow_up: FollowUpAsk | None = None

    def given(self) -> bool:
        return any(getattr(self, name) is not None for name in CloseDetails.model_fields)


class OutcomeAmend(CloseDetails):
    """A dispatcher adds to a close or corrects it afterwards; the fields left out keep
    their value (and `disposition` is then the call's own)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"backup_requested": True, "referral": {"text": "church food bank"}}]
        },
    )

    disposition: Disposition | None = None

    @model_validator(mode="after")
    def _something(self) -> "OutcomeAmend":
        if not self.model_fields_set:
            raise ValueError("nothing to change: give a disposition or a part of the close")
        for name in ("disposition", "backup_requested", "follow_up"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


class OutcomePublic(BaseModel):
    call_id: uuid.UUID
    status: str
    disposition: Disposition | None
    team: str
    received_at: datetime
    first_offer_at: datetime | None
    first_accept_at: datetime | None
    first_on_scene_at: datetime | None
    closed_at: datetime
    officer_on_call: bool
    backup_requested: bool
    backup_requested_at: datetime | None
    destination_id: uuid.UUID | None
    referral_id: uuid.UUID | None
    referral_text: str | None
    follow_up_due_at: datetime | None
    area: str | None
    place_cell: int | None

    @classmethod
    def of(cls, row: CallOutcome) -> "OutcomePublic":
        return cls.model_validate(row, from_attributes=True)


class FollowUpComplete(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"outcome": "linked_to_care"}]}
    )

    outcome: FollowUpOutcome


class FollowUpPublic(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    state: FollowUpState
    opened_at: datetime
    due_at: datetime
    overdue: bool = Field(description="Due and not completed.")
    responder_id: uuid.UUID | None
    claimed_at: datetime | None
    completed_at: datetime | None
    outcome: FollowUpOutcome | None


class FollowUpClaim(BaseModel):
    """Staff claiming a task for a clinician or peer; a carer claims for itself with no
    body."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"responder_id": "6f1c2b0e-8d4a-4c1e-9a57-3b2f0c9d1e42"}]},
    )

    responder_id: uuid.UUID | None = None
