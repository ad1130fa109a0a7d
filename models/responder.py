"""Responders: officers and clinicians who can be sent."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Self

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import BigInteger, Index, String
from sqlmodel import JSON, Column, SQLModel

from models.columns import IsoDate, UTCDateTime, utcnow
from models.vocabulary import ResponderKind, ResponderStatus

LanguageTag = Annotated[
    str,
    StringConstraints(
        to_lower=True, strip_whitespace=True, pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$"
    ),
]
Skill = Annotated[
    str, StringConstraints(to_lower=True, strip_whitespace=True, pattern=r"^[a-z0-9_]{1,40}$")
]
KindName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]*$", max_length=16),
]
# Strict: a JSON number (a whole one too), never `true` (1.0), `false` (0.0) or "40.1".
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)]


class Responder(SQLModel, table=True):
    __table_args__ = (
        Index("ix_responder_search", "agency_id", "kind", "status", "position_cell"),
        Index("ux_responder_external_id", "agency_id", "external_id", unique=True),
    )

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    kind: str = sqlmodel.Field(sa_type=String(16))
    name: str = sqlmodel.Field(max_length=200)
    external_id: str | None = sqlmodel.Field(default=None, max_length=128)
    cit_certified_until: date | None = None
    credentials: list[str] = sqlmodel.Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    languages: list[str] = sqlmodel.Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    skills: list[str] = sqlmodel.Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: ResponderStatus = sqlmodel.Field(default=ResponderStatus.off_duty, sa_type=String(16))
    lat: float | None = None
    lon: float | None = None
    position_cell: int | None = sqlmodel.Field(default=None, sa_type=BigInteger)
    position_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    status_changed_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)


class ResponderCreate(BaseModel):
    """A new responder. New responders start `off_duty` with no position."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "officer",
                    "name": "Ofc. Dana Ruiz",
                    "external_id": "unit-214",
                    "cit_certified_until": "2027-06-30",
                    "languages": ["en", "es"],
                    "skills": ["naloxone"],
                }
            ]
        },
    )

    kind: KindName = Field(
        description="`officer`, `clinician`, `peer`, `medic`, or a kind the agency's "
        "programme declares."
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    cit_certified_until: IsoDate | None = Field(
        default=None, description="Officers only: the last day their CIT certification is valid."
    )
    credentials: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        default_factory=list, max_length=20, description="Not officers: LCSW, CPRS, EMT-P, …"
    )
    languages: list[LanguageTag] = Field(default_factory=list, max_length=20)
    skills: list[Skill] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _kind_specific_fields(self) -> Self:
        if self.kind != ResponderKind.officer and self.cit_certified_until is not None:
            raise ValueError("cit_certified_until applies to officers only")
        if self.kind == ResponderKind.officer and self.credentials:
            raise ValueError("credentials apply to clinicians, peers, medics and other civilians")
        return self


class PositionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"lat": 40.1215, "lon": -75.3399}]}
    )

    lat: Latitude
    lon: Longitude


class StatusUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "available"}]}
    )

    status: ResponderStatus = Field(
        description="`available`, `off_duty` or `out_of_service`; the others follow from "
        "assignments and cannot be set."
    )


class Position(BaseModel):
    lat: float
    lon: float
    at: datetime


class ResponderPublic(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    external_id: str | None
    cit_certified_until: date | None
    credentials: list[str]
    languages: list[str]
    skills: list[str]
    status: ResponderStatus
    status_changed_at: datetime
    position: Position | None

    @classmethod
    def of(cls, row: Responder) -> "ResponderPublic":
        position = None
        if row.lat is not None and row.lon is not None and row.position_at is not None:
            position = Position(lat=row.lat, lon=row.lon, at=row.position_at)
        fields: dict[str, Any] = {k: getattr(row, k) for k in cls.model_fields if k != "position"}
        return cls(**fields, position=position)
