"""Stored answers to POSTs made with an Idempotency-Key, so a CAD may retry safely."""

import uuid
from datetime import datetime
from typing import Any

import sqlmodel
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime


class IdempotentRequest(SQLModel, table=True):
    __tablename__ = "idempotent_request"

    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id", primary_key=True)
    key: str = sqlmodel.Field(max_length=200, primary_key=True)
    fingerprint: str = sqlmodel.Field(max_length=64)
    started_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    finished_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    response_status: int | None = None
    response_body: dict[str, Any] | None = sqlmodel.Field(default=None, sa_column=Column(JSON))
