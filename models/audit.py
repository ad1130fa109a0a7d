"""The audit trail: who did what, when, from where, and how it ended. Append-only."""

import uuid
from datetime import datetime
from typing import Any

import sqlmodel
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Index, Integer, String
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime
from models.vocabulary import Role

# SQLite gives an INTEGER PRIMARY KEY its rowid (increasing); PostgreSQL a BIGSERIAL.
_ID = BigInteger().with_variant(Integer(), "sqlite")


class AuditRecord(SQLModel, table=True):
    """One audited act. The database refuses UPDATEs; only retention deletes."""

    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_agency_id", "agency_id", "id"),
        Index("ix_audit_at", "at"),
    )

    id: int | None = sqlmodel.Field(default=None, sa_type=_ID, primary_key=True)
    at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    agency_id: uuid.UUID | None = sqlmodel.Field(
        default=None, description="None when the token was unknown: nobody's agency."
    )
    token_id: uuid.UUID | None = None
    role: Role | None = sqlmodel.Field(default=None, sa_type=String(16))
    responder_id: uuid.UUID | None = None
    action: str = sqlmodel.Field(max_length=120)
    target: str | None = sqlmodel.Field(default=None, max_length=120)
    outcome: str = sqlmodel.Field(max_length=16)
    status: int | None = None
    source: str | None = sqlmodel.Field(default=None, max_length=64)
    detail: dict[str, Any] | None = sqlmodel.Field(default=None, sa_column=Column(JSON))


class AuditPublic(BaseModel):
    id: int
    at: datetime
    token_id: uuid.UUID | None
    role: Role | None
    responder_id: uuid.UUID | None
    action: str = Field(
        description="`POST /v1/calls`-style for HTTP, `ws accept` for socket actions, "
        "`logon` for a socket's token, `read call` for a read of sensitive fields."
    )
    target: str | None = Field(description="What it concerned: `call:<id>`, `responder:<id>`.")
    outcome: str = Field(description="`success`, `denied`, `rejected` or `failed`.")
    status: int | None = Field(description="The HTTP status answered, when over HTTP.")
    source: str | None = Field(description="The client's address.")
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, row: AuditRecord) -> "AuditPublic":
        return cls.model_validate(row, from_attributes=True)
