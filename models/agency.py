"""Agencies (tenants) and the API tokens that act for them."""

import uuid
from datetime import datetime

import pydantic
import sqlalchemy as sa
from pydantic import BaseModel
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
