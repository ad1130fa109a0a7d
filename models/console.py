"""The WebSocket console protocol's messages (see DESIGN.md and docs/api.md)."""

import uuid
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.responder import Latitude, Longitude
from models.vocabulary import Disposition

# The largest seq a console may name: the log's seqs are 64-bit integers, and a browser
# holds a number exactly only up to 2**53 - 1 (Number.MAX_SAFE_INTEGER). Bounding it here
# keeps a console's absurd ack from reaching, and failing, the write that stores acks.
MAX_SEQ = 2**53 - 1


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hello(_Message):
    type: Literal["hello"]
    token: str | None = Field(
        default=None, max_length=200, description="Optional if the handshake carried one."
    )
    resume_after: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEQ,
        strict=True,
        description="The last seq this console saw; replay what followed.",
    )


class Ack(_Message):
    type: Literal["ack"]
    seq: int = Field(ge=0, le=MAX_SEQ, strict=True)


class Ping(_Message):
    type: Literal["ping"]


class AssignmentAction(_Message):
    type: Literal["accept", "decline"]
    assignment_id: uuid.UUID


class ProgressAction(_Message):
    type: Literal["status"]
    assignment_id: uuid.UUID
    status: Literal["en_route", "on_scene", "cleared"]
    disposition: Disposition | None = None


class CheckinAction(_Message):
    """The responder on scene is safe (`POST /v1/assignments/{id}/checkin`'s twin)."""

    type: Literal["checkin"]
    assignment_id: uuid.UUID


class EmergencyAction(_Message):
    """The responder's own emergency (`POST /v1/responders/{id}/emergency`'s twin)."""

    type: Literal["emergency"]
    note: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None
    lat: Latitude | None = None
    lon: Longitude | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give lat and lon together, or neither")
        return self


class PositionAction(_Message):
    """Where the responder is (`PUT /v1/responders/{id}/position`'s twin)."""

    type: Literal["position"]
    lat: Latitude
    lon: Longitude


ClientMessage = Annotated[
    Ack
    | Ping
    | AssignmentAction
    | ProgressAction
    | CheckinAction
    | EmergencyAction
    | PositionAction
    | Hello,
    Field(discriminator="type"),
]


class ClientEnvelope(BaseModel):
    message: ClientMessage
