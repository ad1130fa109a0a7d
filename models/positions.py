"""A bulk AVL feed: many units' positions in one request, each answered on its own."""

import uuid
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.columns import UTCMoment
from models.responder import Latitude, Longitude

MAX_POSITIONS = 1_000  # a batch; a fleet of 2,000 reporting every 5 s is 2 batches


class PositionReport(BaseModel):
    """One unit's fix: who (CoRespond's id or the CAD's unit id), where, and when."""

    model_config = ConfigDict(extra="forbid")

    responder_id: uuid.UUID | None = None
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    lat: Latitude
    lon: Longitude
    at: UTCMoment = Field(description="When the unit was there, with its offset.")

    @model_validator(mode="after")
    def _one_name(self) -> Self:
        if (self.responder_id is None) == (self.external_id is None):
            raise ValueError("give exactly one of responder_id and external_id")
        return self


class PositionBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "positions": [
                        {
                            "external_id": "unit-214",
                            "lat": 40.1215,
                            "lon": -75.3399,
                            "at": "2026-12-06T14:05:03Z",
                        }
                    ]
                }
            ]
        },
    )

    positions: list[PositionReport] = Field(min_length=1, max_length=MAX_POSITIONS)


class PositionOutcome(StrEnum):
    applied = "applied"
    stale = "stale"  # older than the position already held: skipped
    unknown = "unknown"  # no such unit in this agency
    refused = "refused"  # more than a minute ahead of the server's clock


class PositionResult(BaseModel):
    index: int = Field(description="The report's place in `positions`, from 0.")
    responder_id: uuid.UUID | None
    external_id: str | None
    outcome: PositionOutcome
    detail: str | None = None


class PositionBatchResult(BaseModel):
    applied: int
    stale: int
    unknown: int
    refused: int
    results: list[PositionResult]
