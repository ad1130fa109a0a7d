"""Signed webhooks: an agency's endpoints, where each stands in the event log, and the
log of its deliveries; and the API's schemas for them."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

import sqlmodel
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Index, Integer, String
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime, utcnow
from models.vocabulary import AssignmentState

# The event types an endpoint may ask for (docs/api.md, "Event types"); `*` is all of
# them, and any added later, as a dispatcher's console receives them.
EVENT_TYPES = frozenset(
    {
        "call.created",
        "call.updated",
        "call.unserved",
        "call.closed",
        "call.cancelled",
        "call.outcome_amended",
        *(f"assignment.{state.value}" for state in AssignmentState),
        "assignment.team_changed",
        "responder.created",
        "responder.status_changed",
        "responder.position_changed",
        "responder.positions_changed",
        "follow_up.opened",
        "follow_up.offered",
        "follow_up.claimed",
        "follow_up.completed",
        "follow_up.due_changed",
        "resource.created",
        "resource.updated",
        "resource.deleted",
        "resource.capacity_changed",
        "webhook.disabled",
        "checkin.due",
        "checkin.done",
        "checkin.missed",
        "checkin.acknowledged",
        "checkin.escalated",
        "responder.emergency",
        "emergency.position_wanted",
        "emergency.updated",
        "emergency.closed",
    }
)
ALL_EVENTS = "*"
MAX_URL_LENGTH = 2000

# SQLite gives an INTEGER PRIMARY KEY its rowid (increasing); PostgreSQL a BIGSERIAL.
_ID = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEndpoint(SQLModel, table=True):
    """An agency's receiver, and where it stands: the last seq it was sent (the event
    log is the outbox), its current failure, and which replica's turn it is."""

    __tablename__ = "webhook_endpoint"

    id: uuid.UUID = sqlmodel.Field(default_factory=uuid.uuid4, primary_key=True)
    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id", index=True)
    url: str = sqlmodel.Field(max_length=MAX_URL_LENGTH)
    events: list[str] = sqlmodel.Field(sa_column=Column(JSON, nullable=False))
    # HMAC needs the secret itself: kept as given, never answered again (docs/webhooks.md).
    secret: str = sqlmodel.Field(max_length=64)
    created_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)
    cursor: int = sqlmodel.Field(
        sa_type=BigInteger, description="Every event up to this seq was delivered or skipped."
    )
    attempts: int = sqlmodel.Field(default=0, description="Failed tries of the next event.")
    failing_since: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    next_try_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = sqlmodel.Field(default=None, max_length=300)
    disabled_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))
    lease_owner: uuid.UUID | None = sqlmodel.Field(
        default=None, description="The claim of the replica delivering it now."
    )
    lease_until: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime))


class DeliveryStatus(StrEnum):
    delivered = "delivered"  # the receiver answered 2xx
    retrying = "retrying"  # it failed; it is tried again at the endpoint's `next_try_at`
    failed = "failed"  # given up: the endpoint was disabled, or a redelivery replaced it


class WebhookDelivery(SQLModel, table=True):
    """An entry of an endpoint's delivery log (the last few hundred an endpoint): an
    event that failed, however often it was tried; or a run of events delivered in one
    round, from `seq` through `through_seq`, `events` of them (one entry a round, not
    one an event: the rounds are written in the serving process's batches, beside the
    offers')."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),)

    id: int | None = sqlmodel.Field(default=None, sa_type=_ID, primary_key=True)
    endpoint_id: uuid.UUID = sqlmodel.Field(foreign_key="webhook_endpoint.id")
    seq: int = sqlmodel.Field(sa_type=BigInteger)
    through_seq: int = sqlmodel.Field(sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    events: int = sqlmodel.Field(default=1, sa_column_kwargs={"server_default": "1"})
    event: str = sqlmodel.Field(max_length=64)  # `EVENT_RUN_MIXED` for a run of several types
    status: DeliveryStatus = sqlmodel.Field(sa_type=String(16))
    attempts: int
    http_status: int | None = None
    error: str | None = sqlmodel.Field(default=None, max_length=300)
    first_tried_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)
    last_tried_at: datetime = sqlmodel.Field(sa_type=UTCDateTime)


def _event_types(events: list[str]) -> list[str]:
    if ALL_EVENTS in events:
        if events != [ALL_EVENTS]:
            raise ValueError('"*" means every event and stands alone: ["*"]')
        return events
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        raise ValueError(
            f"unknown event type {', '.join(unknown)}; known: {', '.join(sorted(EVENT_TYPES))}"
        )
    if len(set(events)) != len(events):
        raise ValueError("an event type is listed twice")
    return events


def _web_address(url: str) -> str:
    """What can be told of a URL without the network; the service checks the rest
    (https, and where its name resolves)."""
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        raise ValueError(
            "must be ASCII with no spaces or control characters: percent-encode the "
            "path and query, and write the name in its xn-- form"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL with a host, e.g. https://cad.example.org/hooks")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must carry no user or password: receivers check the signature instead")
    if parts.fragment:
        raise ValueError("must have no #fragment (it is never sent)")
    if port == 0:
        raise ValueError("port 0 is not a port")
    return url


class WebhookCreate(BaseModel):
    """An endpoint to register: where, and which events."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"url": "https://cad.example.org/corespond", "events": ["*"]},
                {"url": "https://cad.example.org/outcomes", "events": ["call.closed"]},
            ]
        },
    )

    url: Annotated[str, AfterValidator(_web_address)] = Field(
        max_length=MAX_URL_LENGTH,
        description="An https:// URL on a public address (no redirects are followed).",
    )
    events: Annotated[list[str], AfterValidator(_event_types)] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description='Event types (docs/api.md, "Event types"), or `["*"]` for every event '
        "a dispatcher's console receives.",
    )


class WebhookState(StrEnum):
    active = "active"  # delivering, or waiting for events
    failing = "failing"  # its next event failed; retried with a backoff
    disabled = "disabled"  # failed for `CORESPOND_WEBHOOK_GIVE_UP_H`; redeliver to resume


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: datetime
    state: WebhookState
    delivered_through: int = Field(
        description="Every event up to this seq was delivered (or was not one it asked for)."
    )
    attempts: int = Field(description="Failed tries of the next event.")
    failing_since: datetime | None
    next_try_at: datetime | None
    last_error: str | None
    disabled_at: datetime | None

    @classmethod
    def of(cls, row: WebhookEndpoint) -> "WebhookPublic":
        if row.disabled_at is not None:
            state = WebhookState.disabled
        elif row.failing_since is not None:
            state = WebhookState.failing
        else:
            state = WebhookState.active
        return cls(
            id=row.id,
            url=row.url,
            events=row.events,
            created_at=row.created_at,
            state=state,
            delivered_through=row.cursor,
            attempts=row.attempts,
            failing_since=row.failing_since,
            next_try_at=row.next_try_at,
            last_error=row.last_error,
            disabled_at=row.disabled_at,
        )


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret (`whsec_…`): shown this once. Receivers check "
        "`CoRespond-Signature` with it (docs/webhooks.md)."
    )


EVENT_RUN_MIXED = "*"  # a run's `event` when its events were of several types


class DeliveryPublic(BaseModel):
    """An entry of the delivery log: one event that failed (or was delivered after
    failing), or a run of events delivered in one go."""

    seq: int = Field(description="The event's seq; a run's first.")
    through_seq: int = Field(description="A run's last seq (`seq` for one event).")
    events: int = Field(description="How many events the entry is of (1, or a run's).")
    event: str = Field(description='The events\' type, or "*" for a run of several types.')
    status: DeliveryStatus
    attempts: int
    http_status: int | None = Field(description="What the receiver last answered, if it did.")
    error: str | None = Field(description="Why the last try failed (None once delivered).")
    first_tried_at: datetime
    last_tried_at: datetime

    @classmethod
    def of(cls, row: WebhookDelivery) -> "DeliveryPublic":
        return cls.model_validate(row, from_attributes=True)


class Redeliver(BaseModel):
    """Send again every event from this seq on (and resume a disabled endpoint)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"from_seq": 1200}]})

    from_seq: int = Field(ge=1, le=2**53 - 1, strict=True)
