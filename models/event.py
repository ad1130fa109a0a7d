"""The append-only event log: the source of truth for consoles and the audit trail."""

import uuid
from datetime import datetime
from typing import Any

import sqlmodel
from pydantic import BaseModel
from sqlalchemy import BigInteger, Index
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime


class Event(SQLModel, table=True):
    __table_args__ = (
        Index("ix_event_agency_seq", "agency_id", "seq"),
        Index("ix_event_responder_seq", "responder_id", "seq"),
    )

    seq: int = sqlmodel.Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id")
    at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    type: str = sqlmodel.Field(max_length=64)
    call_id: uuid.UUID | None = None
    responder_id: uuid.UUID | None = None
    assignment_id: uuid.UUID | None = None
    data: dict[str, Any] = sqlmodel.Field(sa_column=Column(JSON, nullable=False))


class EventCounter(SQLModel, table=True):
    """One row holding the last `seq` handed out.

    Taking the next value is an UPDATE of this row, which every backend locks
    until the transaction ends: so seqs are committed in the order they are given
    and a rolled-back transaction leaves no gap.
    """

    __tablename__ = "event_counter"

    id: int = sqlmodel.Field(primary_key=True)
    last_seq: int = sqlmodel.Field(sa_type=BigInteger)
    purged_through: int = sqlmodel.Field(
        default=0,
        sa_type=BigInteger,
        sa_column_kwargs={"server_default": "0"},
        description="Events up to this seq are past retention and gone.",
    )


class EventMessage(BaseModel):
    """An event as it travels on the bus and reaches consoles (before filtering)."""

    seq: int
    agency_id: uuid.UUID
    at: datetime
    type: str
    call_id: uuid.UUID | None = None
    responder_id: uuid.UUID | None = None
    assignment_id: uuid.UUID | None = None
    data: dict[str, Any]
