"""Repeat contacts without a registry of people (issue 21): a call's person is kept only
as keyed hashes of the identifiers a CAD sent, and its place as an H3 cell, each for a
configured window; what a new call shows is how many earlier calls in that window
shared either. Nothing records who the person is, nor a diagnosis.
"""

import re
import uuid
from datetime import datetime
from typing import Annotated

import sqlmodel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import Index
from sqlmodel import SQLModel

from models.columns import IsoDate, UTCDateTime


class ContactKey(SQLModel, table=True):
    """One key of one call: `person:<hex>` (an HMAC of an identifier) or `place:<cell>`.
    Dropped once older than the window (`CORESPOND_REPEAT_CONTACT_DAYS`)."""

    __tablename__ = "contact_key"
    __table_args__ = (Index("ix_contact_key_lookup", "agency_id", "key", "received_at"),)

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    call_id: uuid.UUID = sqlmodel.Field(foreign_key="call.id", index=True)
    key: str = sqlmodel.Field(max_length=80)
    received_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)


class AgencySecret(SQLModel, table=True):
    """An agency's random secret for hashing persons, made with the agency."""

    __tablename__ = "agency_secret"

    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id", primary_key=True)
    person_secret: str = sqlmodel.Field(max_length=64, description="32 random bytes, in hex.")


_PERSON_ID = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces


class Person(BaseModel):
    """Who the call is about, as the CAD knows them: hashed on arrival, never stored.
    Either the CAD's own person id, or a name with a date of birth, or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"cad_person_id": "P-88213", "name": "Alex Doe", "date_of_birth": "1990-04-02"}
            ]
        },
    )

    cad_person_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The CAD's id for the person (printable, no spaces)."
    )
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    date_of_birth: IsoDate | None = None

    @model_validator(mode="after")
    def _enough(self) -> "Person":
        if self.cad_person_id is not None and not _PERSON_ID.match(self.cad_person_id):
            raise ValueError("cad_person_id must be printable characters without spaces")
        if (self.name is None) != (self.date_of_birth is None):
            raise ValueError("name and date_of_birth go together: a name alone is not a person")
        if self.cad_person_id is None and self.name is None:
            raise ValueError("give cad_person_id, or name with date_of_birth")
        return self


class Contacts(BaseModel):
    """Earlier calls in the window that shared this call's person or place."""

    window_days: int
    person: int | None = Field(
        description="Earlier calls about the same person; null when the call named nobody."
    )
    place: int = Field(description="Earlier calls at the same place (the same H3 cell).")
    said: str = Field(description='e.g. "3 contacts in 90 days at this person; 1 at this place".')
