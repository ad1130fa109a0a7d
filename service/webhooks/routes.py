"""`/v1/webhooks`: an agency's signed webhook endpoints, their deliveries, and replays
(admins only; docs/webhooks.md)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from models.webhook import (
    DeliveryPublic,
    Redeliver,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from service.errors import Invalid
from service.store.transaction import Tx
from service.trust.access import require_role
from service.web.deps import CurrentActor, CurrentPrincipal, State
from service.web.responses import Limit, errors
from service.webhooks import operations as webhooks
from service.webhooks.addresses import Refused, resolve
from service.webhooks.delivery import endpoints_changed

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

MAX_SEQ = 2**53 - 1


@router.post("", status_code=201, responses=errors(403, 409))
async def register_webhook(
    body: WebhookCreate, actor: CurrentActor, state: State
) -> WebhookCreated:
    """Register an endpoint for the listed event types (`["*"]`: every event a
    dispatcher's console receives). The answer carries the signing secret, shown this
    once. The URL must be https:// on a public address (its name is resolved now and
    at each delivery): 422 says why one is refused. Deliveries start with the next
    event committed."""
    require_role(actor.who, webhooks.ADMINS, "manage webhooks")
    settings = state.settings
    try:
        await resolve(
            body.url,
            allow_private=settings.webhook_allow_private,
            timeout_s=settings.webhook_timeout_s,
        )
    except Refused as refused:
        raise Invalid(f"url: {refused}") from None
    actor.detail = {"url": body.url, "events": body.events}  # never the secret

    def work(tx: Tx) -> WebhookCreated:
        created = webhooks.register(tx, principal=actor.who, body=body)
        actor.target = f"webhook:{created.id}"
        return created

    created = await state.uow.write_as(actor, work)
    endpoints_changed(state)
    return created


@router.get("", responses=errors(403))
async def list_webhooks(principal: CurrentPrincipal, state: State) -> list[WebhookPublic]:
    """The agency's endpoints and how each stands (`active`, `failing` with its next
    try, or `disabled`), oldest first; never their secrets."""
    return await state.uow.read(webhooks.list_endpoints, principal=principal)


@router.delete("/{webhook_id}", status_code=204, responses=errors(403, 404))
async def delete_webhook(webhook_id: uuid.UUID, actor: CurrentActor, state: State) -> Response:
    """Remove an endpoint and its delivery log. A delivery in flight is its last."""
    actor.target = f"webhook:{webhook_id}"
    await state.uow.write_as(actor, webhooks.remove, principal=actor.who, endpoint_id=webhook_id)
    endpoints_changed(state)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", responses=errors(403, 404))
async def list_deliveries(
    webhook_id: uuid.UUID,
    principal: CurrentPrincipal,
    state: State,
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="Page back: only entries starting before this seq."),
    ] = None,
    limit: Limit = 100,
) -> list[DeliveryPublic]:
    """The endpoint's delivery log, newest first: an entry for each event that failed
    (`retrying`, `failed`, or `delivered` once it got through), with its tries and the
    last error or HTTP status; and one for each run of events delivered in one go
    (`seq` through `through_seq`, `events` of them). The newest 500 are kept."""
    return await state.uow.read(
        webhooks.deliveries, principal=principal, endpoint_id=webhook_id, before=before, limit=limit
    )


@router.post("/{webhook_id}/redeliver", responses=errors(403, 404))
async def redeliver(
    webhook_id: uuid.UUID, body: Redeliver, actor: CurrentActor, state: State
) -> WebhookPublic:
    """Send every event the endpoint asked for again from `from_seq` on, in order, with
    the same seqs (receivers that dedupe by seq must forget those they want again).
    Resumes a disabled endpoint. A seq past the log's retention is refused (422)."""
    actor.target = f"webhook:{webhook_id}"
    actor.detail = {"from_seq": body.from_seq}
    resumed = await state.uow.write_as(
        actor,
        webhooks.redeliver,
        principal=actor.who,
        endpoint_id=webhook_id,
        from_seq=body.from_seq,
    )
    endpoints_changed(state)
    return resumed
