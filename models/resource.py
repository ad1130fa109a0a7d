"""Community resources (issue 21): the places an agency refers or takes people to, with
their hours and live capacity, and the provider tokens that keep one's capacity current."""

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import String
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime, utcnow
from models.programme import AgeGroup, ProgrammeInvalid, weekly_intervals
from models.responder import Latitude, Longitude
from models.vocabulary import Category, ResourceKind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Hours = dict[str, str]


class Resource(SQLModel, table=True):
    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id", index=True)
    name: str = sqlmodel.Field(max_length=200)
    kind: ResourceKind = sqlmodel.Field(sa_type=String(32))
    lat: float
    lon: float
    address: str | None = sqlmodel.Field(default=None, max_length=500)
    # Empty: takes every category, every age group.
    categories: list[str] = sqlmodel.Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    age_groups: list[str] = sqlmodel.Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # As a programme's hours ({"mon-fri": "08:00-20:00"}) in the agency's zone; None: always.
    hours: dict[str, str] | None = sqlmodel.Field(default=None, sa_column=Column(JSON))
    capacity: int | None = sqlmodel.Field(default=None, description="Beds or slots free now.")
    capacity_updated_at: datetime | None = sqlmodel.Field(
        default=None, sa_column=Column(UTCDateTime)
    )
    created_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProviderToken(SQLModel, table=True):
    """The one resource a `provider` token acts for (as `ApiToken.responder_id` binds a
    responder token), kept beside the token so the token table stays as it is."""

    __tablename__ = "provider_token"

    token_id: uuid.UUID = sqlmodel.Field(foreign_key="api_token.id", primary_key=True)
    resource_id: uuid.UUID = sqlmodel.Field(foreign_key="resource.id", index=True)


def _valid_hours(value: Hours | None) -> Hours | None:
    if value is not None:
        try:
            weekly_intervals(value)
        except ProgrammeInvalid as invalid:
            said = "; ".join(f"{e['path']}: {e['message']}" for e in invalid.errors)
            raise ValueError(said) from None
    return value


class ResourceLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Latitude
    lon: Longitude
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class ResourceCreate(BaseModel):
    """A place in the directory. `categories` and `age_groups` left empty take every one;
    `hours` left out is always open; `capacity` left out is not tracked (never full)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Montgomery County Crisis Centre",
                    "kind": "crisis_centre",
                    "location": {"lat": 40.1231, "lon": -75.3402, "address": "50 Beech St"},
                    "categories": ["mental_health_crisis", "suicidal_ideation"],
                    "age_groups": ["adult", "older_adult"],
                    "hours": {"mon-sun": "00:00-24:00"},
                    "capacity": 6,
                }
            ]
        },
    )

    name: Name
    kind: ResourceKind
    location: ResourceLocation
    categories: list[Category] = Field(default_factory=list, max_length=20)
    age_groups: list[AgeGroup] = Field(default_factory=list, max_length=5)
    hours: Hours | None = Field(
        default=None, description="Weekly hours in the agency's zone, as a programme's."
    )
    capacity: int | None = Field(default=None, ge=0, le=100_000, strict=True)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: Hours | None) -> Hours | None:
        return _valid_hours(value)


class ResourceUpdate(BaseModel):
    """The fields that changed; one left out keeps its value (`hours`, `capacity` and
    the address may be set to null)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Hope Crisis Centre", "capacity": 4}]},
    )

    name: Name | None = None
    kind: ResourceKind | None = None
    location: ResourceLocation | None = None
    categories: list[Category] | None = Field(default=None, max_length=20)
    age_groups: list[AgeGroup] | None = Field(default=None, max_length=5)
    hours: Hours | None = None
    capacity: int | None = Field(default=None, ge=0, le=100_000, strict=True)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: Hours | None) -> Hours | None:
        return _valid_hours(value)


class CapacityUpdate(BaseModel):
    """What a provider reports: beds or slots free now."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"capacity": 3}]})

    capacity: int = Field(ge=0, le=100_000, strict=True)


class ResourcePublic(BaseModel):
    id: uuid.UUID
    name: str
    kind: ResourceKind
    location: ResourceLocation
    categories: list[str]
    age_groups: list[str]
    hours: dict[str, str] | None
    capacity: int | None
    capacity_updated_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Resource) -> "ResourcePublic":
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            location=ResourceLocation(lat=row.lat, lon=row.lon, address=row.address),
            categories=list(row.categories),
            age_groups=list(row.age_groups),
            hours=row.hours,
            capacity=row.capacity,
            capacity_updated_at=row.capacity_updated_at,
            created_at=row.created_at,
        )


class Suggestion(BaseModel):
    """An open resource with room that fits the call, nearest first."""

    id: uuid.UUID
    name: str
    kind: ResourceKind
    location: ResourceLocation
    distance_m: float
    capacity: int | None
    capacity_updated_at: datetime | None


def resource_columns(body: BaseModel) -> dict[str, Any]:
    """A create or update body as the table's columns (only the fields given)."""
    given = body.model_dump(exclude_unset=True, mode="json")
    location = given.pop("location", None)
    if location is not None:
        given.update(lat=location["lat"], lon=location["lon"], address=location.get("address"))
    return given
