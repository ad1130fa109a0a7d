"""Registering, listing and removing an agency's endpoints; their delivery log; and
replaying from a seq. Admins only: an endpoint receives the agency's events."""

import uuid

from sqlalchemy import delete, select, update
from sqlmodel import col

from models.agency import Principal
from models.vocabulary import Role
from models.webhook import (
    DeliveryPublic,
    DeliveryStatus,
    WebhookCreate,
    WebhookCreated,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookPublic,
)
from service.errors import Conflict, Invalid, NotFound
from service.live.events import head_seq, purged_through
from service.store.transaction import Tx
from service.trust.access import require_role
from service.webhooks.signing import new_secret

ADMINS = frozenset({Role.admin})
MAX_ENDPOINTS = 20  # an agency's, so the delivery work a tenant can ask for is bounded


def register(tx: Tx, *, principal: Principal, body: WebhookCreate) -> WebhookCreated:
    """A new endpoint, with its signing secret (answered this once). It receives the
    events committed after it, not the log's past (redeliver for that)."""
    require_role(principal, ADMINS, "manage webhooks")
    mine = _endpoints(tx, principal.agency_id)
    if any(e.url == body.url for e in mine):
        same = next(e.id for e in mine if e.url == body.url)
        raise Conflict(
            f"{body.url} is registered already (webhook {same}); delete it first to "
            "change its events or get a new secret"
        )
    if len(mine) >= MAX_ENDPOINTS:
        raise Conflict(f"an agency has at most {MAX_ENDPOINTS} webhooks; delete one first")
    endpoint = WebhookEndpoint(
        agency_id=principal.agency_id,
        url=body.url,
        events=body.events,
        secret=new_secret(),
        created_at=tx.now,
        cursor=head_seq(tx),
    )
    tx.session.add(endpoint)
    tx.session.flush()
    return WebhookCreated(**WebhookPublic.of(endpoint).model_dump(), secret=endpoint.secret)


def list_endpoints(tx: Tx, *, principal: Principal) -> list[WebhookPublic]:
    require_role(principal, ADMINS, "manage webhooks")
    return [WebhookPublic.of(e) for e in _endpoints(tx, principal.agency_id)]


def get_endpoint(tx: Tx, *, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """The agency's endpoint; NotFound, as if absent, for another agency's."""
    require_role(principal, ADMINS, "manage webhooks")
    endpoint = tx.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.agency_id != principal.agency_id:
        raise NotFound(f"no webhook {endpoint_id} in this agency")
    return endpoint


def remove(tx: Tx, *, principal: Principal, endpoint_id: uuid.UUID) -> None:
    """Delete the endpoint and its log; a delivery in flight is its last."""
    endpoint = get_endpoint(tx, principal=principal, endpoint_id=endpoint_id)
    tx.session.execute(
        delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id)
    )
    tx.session.delete(endpoint)
    tx.session.flush()


def deliveries(
    tx: Tx, *, principal: Principal, endpoint_id: uuid.UUID, before: int | None, limit: int
) -> list[DeliveryPublic]:
    """The endpoint's deliveries, newest first (`before`: only events before that seq)."""
    endpoint = get_endpoint(tx, principal=principal, endpoint_id=endpoint_id)
    query = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == endpoint.id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(col(WebhookDelivery.seq) < before)
    return [DeliveryPublic.of(d) for d in tx.session.execute(query).scalars()]


def redeliver(
    tx: Tx, *, principal: Principal, endpoint_id: uuid.UUID, from_seq: int
) -> WebhookPublic:
    """Send every event the endpoint asked for from `from_seq` on again, in order, and
    resume it if it was disabled or waiting for a retry. A seq past the log's retention
    cannot be replayed; one after its head starts the endpoint there (skipping the
    rest)."""
    endpoint = get_endpoint(tx, principal=principal, endpoint_id=endpoint_id)
    purged, head = purged_through(tx), head_seq(tx)
    if from_seq <= purged:
        raise Invalid(
            f"from_seq: {from_seq} is past the event log's retention; it keeps seq "
            f"{purged + 1} on (CORESPOND_EVENT_RETENTION_DAYS)"
        )
    if from_seq > head + 1:
        raise Invalid(f"from_seq: {from_seq} is after the event log's last seq, {head}")
    # The lease stays whose it was: a replica delivering now goes on from the new
    # cursor at its next write, so two never send to one endpoint at once.
    tx.session.execute(
        update(WebhookEndpoint)
        .where(col(WebhookEndpoint.id) == endpoint.id)
        .values(
            cursor=from_seq - 1,
            attempts=0,
            failing_since=None,
            next_try_at=None,
            last_error=None,
            disabled_at=None,
        )
    )
    tx.session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.status) == DeliveryStatus.retrying,
        )
        .values(status=DeliveryStatus.failed, error=f"replaced by a redelivery from {from_seq}")
    )
    tx.session.refresh(endpoint)
    return WebhookPublic.of(endpoint)


def _endpoints(tx: Tx, agency_id: uuid.UUID) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.agency_id) == agency_id)
        .order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
    )
    return list(tx.session.execute(query).scalars())
