"""Agencies (tenants) and the API tokens that act for them."""

import uuid
from datetime import datetime
from typing import Any, Literal

import pydantic
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, String
from sqlmodel import Column, Field, SQLModel

from models.columns import UTCDateTime, utcnow
from models.vocabulary import Role


class Agency(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    offer_timeout_s: int = Field(default=60)
    # 42 CFR Part 2 and HIPAA's minimum necessary: police see neither unless the agency says so.
    officers_see_narrative: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    officers_see_substance_use: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    programme_version: int = Field(
        default=1,
        sa_column_kwargs={"server_default": "1"},
        description="The version of its programme in force (models.rules.ProgrammeVersion).",
    )
    # The safety contract (issue 23; docs/configuration.md, "Agency settings").
    checkin_interval_s: int = Field(
        default=900,
        sa_column_kwargs={"server_default": "900"},
        description="Seconds on scene between check-ins; 0 turns check-ins off.",
    )
    checkin_grace_s: int = Field(
        default=300,
        sa_column_kwargs={"server_default": "300"},
        description="Seconds after a missed check-in before the agency's rule applies.",
    )
    checkin_missed_rule: str = Field(
        default="backup",
        max_length=16,
        sa_column_kwargs={"server_default": "backup"},
        description="`backup` (offer the nearest available CIT officer) or `alarm` (alarm only).",
    )
    emergency_backup_count: int = Field(
        default=2,
        sa_column_kwargs={"server_default": "2"},
        description="How many CIT officers an emergency offers as backup.",
    )
    emergency_position_interval_s: int = Field(
        default=5,
        sa_column_kwargs={"server_default": "5"},
        description="How often a responder in an emergency is asked for position.",
    )
    position_report_interval_s: int = Field(
        default=30,
        sa_column_kwargs={"server_default": "30"},
        description="How often a consenting phone reports its position in normal work.",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = Field(foreign_key="agency.id", index=True)
    role: Role = Field(sa_type=String(16))
    responder_id: uuid.UUID | None = Field(default=None, foreign_key="responder.id")
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    acked_seq: int = Field(
        default=0,
        sa_type=BigInteger,
        sa_column_kwargs={"server_default": "0"},
        description="The last seq a console on this token acknowledged.",
    )


class Principal(BaseModel):
    """Who is asking: the token's agency and role, and for a responder, which one."""

    token_id: uuid.UUID
    agency_id: uuid.UUID
    agency_slug: str
    role: Role
    responder_id: uuid.UUID | None = None
    sees_narrative: bool = pydantic.Field(
        default=False, description="May read call narratives (a responder: once it accepted)."
    )
    sees_substance_use: bool = pydantic.Field(
        default=False, description="May see that a call concerns substance use (42 CFR Part 2)."
    )


MissedRule = Literal["backup", "alarm"]

# Each numeric setting's bounds (inclusive); `checkin_interval_s` also takes 0 (off).
SETTING_BOUNDS: dict[str, tuple[int, int]] = {
    "offer_timeout_s": (5, 3600),
    "checkin_interval_s": (5, 7200),
    "checkin_grace_s": (5, 3600),
    "emergency_backup_count": (1, 10),
    "emergency_position_interval_s": (2, 60),
    "position_report_interval_s": (5, 600),
}


class AgencySettings(BaseModel):
    """An agency's name and the settings its consoles follow (`GET /v1/agency`)."""

    name: str
    slug: str
    offer_timeout_s: int
    checkin_interval_s: int = pydantic.Field(description="0: check-ins are off.")
    checkin_grace_s: int
    checkin_missed_rule: MissedRule
    emergency_backup_count: int
    emergency_position_interval_s: int
    position_report_interval_s: int

    @classmethod
    def of(cls, agency: Any) -> "AgencySettings":
        return cls.model_validate(agency, from_attributes=True)


class AgencySettingsUpdate(BaseModel):
    """`PATCH /v1/agency`: the fields given change, the others stay (bounds:
    docs/configuration.md, "Agency settings")."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"checkin_interval_s": 600, "checkin_grace_s": 120}]},
    )

    offer_timeout_s: int | None = pydantic.Field(default=None, strict=True)
    checkin_interval_s: int | None = pydantic.Field(
        default=None, strict=True, description="0 turns check-ins off; else 5..7200 seconds."
    )
    checkin_grace_s: int | None = pydantic.Field(default=None, strict=True)
    checkin_missed_rule: MissedRule | None = None
    emergency_backup_count: int | None = pydantic.Field(default=None, strict=True)
    emergency_position_interval_s: int | None = pydantic.Field(default=None, strict=True)
    position_report_interval_s: int | None = pydantic.Field(default=None, strict=True)
