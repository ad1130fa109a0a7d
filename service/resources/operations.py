"""The directory: an agency's resources, kept by its admins and supervisors, their
capacity kept current by providers, and the ones that fit a call."""

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from models.agency import ApiToken, Principal
from models.resource import (
    CapacityUpdate,
    ProviderToken,
    Resource,
    ResourceCreate,
    ResourcePublic,
    ResourceUpdate,
    resource_columns,
)
from models.vocabulary import Role
from service.agencies.operations import get_agency
from service.errors import Invalid, NotFound
from service.store.transaction import Tx
from service.trust import audit, auth
from service.trust.access import STAFF, require_role

KEEPERS = frozenset({Role.admin, Role.supervisor})  # who edits the directory
READERS = STAFF | {Role.cad, Role.responder}  # who reads it (a provider: its own resource)


def get_resource(tx: Tx, *, principal: Principal, resource_id: uuid.UUID) -> Resource:
    """The resource, if `principal` may see it; otherwise NotFound, as if absent (so a
    provider cannot tell another agency's or another provider's resource exists)."""
    resource = tx.session.get(Resource, resource_id)
    visible = resource is not None and resource.agency_id == principal.agency_id
    if visible and principal.role == Role.provider:
        visible = provider_resource(tx, principal) == resource_id
    if resource is None or not visible:
        raise NotFound(f"no resource {resource_id} in this agency")
    return resource


def resource_of_agency(tx: Tx, *, agency_id: uuid.UUID, resource_id: uuid.UUID) -> Resource:
    """For a close naming a resource: one of the agency's, or a 422 that says so."""
    resource = tx.session.get(Resource, resource_id)
    if resource is None or resource.agency_id != agency_id:
        raise Invalid(
            f"no resource {resource_id} in this agency's directory: pick one from GET /v1/resources"
        )
    return resource


def provider_resource(tx: Tx, principal: Principal) -> uuid.UUID | None:
    binding = tx.session.get(ProviderToken, principal.token_id)
    return None if binding is None else binding.resource_id


def list_resources(tx: Tx, *, principal: Principal) -> list[ResourcePublic]:
    if principal.role == Role.provider:
        own = provider_resource(tx, principal)
        if own is None:
            return []
        return [ResourcePublic.of(get_resource(tx, principal=principal, resource_id=own))]
    require_role(principal, READERS, "read the directory")
    rows = tx.session.execute(
        select(Resource)
        .where(col(Resource.agency_id) == principal.agency_id)
        .order_by(col(Resource.name), col(Resource.id))
    ).scalars()
    return [ResourcePublic.of(r) for r in rows]


def read_resource(tx: Tx, *, principal: Principal, resource_id: uuid.UUID) -> ResourcePublic:
    if principal.role != Role.provider:
        require_role(principal, READERS, "read the directory")
    return ResourcePublic.of(get_resource(tx, principal=principal, resource_id=resource_id))


def create_resource(tx: Tx, *, principal: Principal, body: ResourceCreate) -> ResourcePublic:
    require_role(principal, KEEPERS, "edit the directory")
    columns = resource_columns(body)
    resource = Resource(
        agency_id=principal.agency_id,
        capacity_updated_at=tx.now if body.capacity is not None else None,
        **columns,
    )
    tx.session.add(resource)
    tx.session.flush()
    _record(tx, "resource.created", resource)
    return ResourcePublic.of(resource)


def update_resource(
    tx: Tx, *, principal: Principal, resource_id: uuid.UUID, body: ResourceUpdate
) -> ResourcePublic:
    """Change the fields given; `name`, `kind`, `location`, `categories` and
    `age_groups` cannot be null."""
    require_role(principal, KEEPERS, "edit the directory")
    resource = get_resource(tx, principal=principal, resource_id=resource_id)
    for name in ("name", "kind", "location", "categories", "age_groups"):
        if name in body.model_fields_set and getattr(body, name) is None:
            raise Invalid(f"{name} cannot be null; leave it out to keep it")
    columns = resource_columns(body)
    if not columns:
        raise Invalid("nothing to change: give at least one field")
    capacity_changed = "capacity" in columns and columns["capacity"] != resource.capacity
    for name, value in columns.items():
        setattr(resource, name, value)
    if capacity_changed:
        resource.capacity_updated_at = tx.now
    tx.session.flush()
    _record(tx, "resource.updated", resource)
    return ResourcePublic.of(resource)


def delete_resource(tx: Tx, *, principal: Principal, resource_id: uuid.UUID) -> ResourcePublic:
    """Remove a place from the directory; close records that named it keep its id."""
    require_role(principal, KEEPERS, "edit the directory")
    resource = get_resource(tx, principal=principal, resource_id=resource_id)
    public = ResourcePublic.of(resource)
    _refuse_bound(tx, resource_id)
    tx.session.delete(resource)
    tx.session.flush()
    tx.record("resource.deleted", agency_id=resource.agency_id, data={"id": str(resource_id)})
    return public


def _refuse_bound(tx: Tx, resource_id: uuid.UUID) -> None:
    """A live provider token keeps its resource; a revoked one lets it go."""
    bindings = tx.session.execute(
        select(ProviderToken, col(ApiToken.revoked_at))
        .join(ApiToken, col(ApiToken.id) == col(ProviderToken.token_id))
        .where(col(ProviderToken.resource_id) == resource_id)
    ).all()
    live = [b.token_id for b, revoked_at in bindings if revoked_at is None]
    if live:
        raise Invalid(
            f"provider token {live[0]} acts for this resource: revoke it first "
            "(`corespond token revoke`), then delete"
        )
    for binding, _ in bindings:
        tx.session.delete(binding)
    tx.session.flush()


def set_capacity(
    tx: Tx, *, principal: Principal, resource_id: uuid.UUID, body: CapacityUpdate
) -> ResourcePublic:
    """A provider reports its own resource's free beds or slots; staff may for any of
    the agency's (told by phone)."""
    if principal.role == Role.provider:
        if provider_resource(tx, principal) != resource_id:
            raise NotFound(f"no resource {resource_id} in this agency")
    else:
        require_role(principal, STAFF, "update a resource's capacity")
    resource = get_resource(tx, principal=principal, resource_id=resource_id)
    resource.capacity, resource.capacity_updated_at = body.capacity, tx.now
    tx.session.flush()
    tx.record(
        "resource.capacity_changed",
        agency_id=resource.agency_id,
        data={
            "id": str(resource.id),
            "name": resource.name,
            "capacity": resource.capacity,
            "capacity_updated_at": tx.now.isoformat(),
        },
    )
    return ResourcePublic.of(resource)


def _record(tx: Tx, type: str, resource: Resource) -> None:
    tx.record(
        type, agency_id=resource.agency_id, data=ResourcePublic.of(resource).model_dump(mode="json")
    )


def issue_provider_token(
    tx: Tx, *, slug: str, resource_id: uuid.UUID, label: str, expires_in: timedelta | None
) -> str:
    """A `provider` token for one resource of the agency `slug`: it may read that
    resource and set its capacity, nothing else. Returned once."""
    agency = get_agency(tx, slug=slug)
    resource = tx.session.get(Resource, resource_id)
    if resource is None or resource.agency_id != agency.id:
        raise NotFound(f"no resource {resource_id} in agency {slug!r}")
    if expires_in is not None and expires_in <= timedelta(0):
        raise Invalid("a token's lifetime must be positive")
    token = auth.issue_token(
        tx,
        agency=agency,
        role=Role.provider,
        label=label,
        expires_at=tx.now + expires_in if expires_in is not None else None,
    )
    row = auth.principal_for(tx, token)
    assert row is not None
    tx.session.add(ProviderToken(token_id=row.token_id, resource_id=resource_id))
    tx.session.flush()
    audit.record_command(
        tx,
        agency_id=agency.id,
        action="token create",
        role=Role.provider.value,
        resource=str(resource_id),
        label=label,
    )
    return token
