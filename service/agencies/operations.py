"""Agencies: the tenants every other row belongs to."""

import re
import uuid

from sqlalchemy import bindparam, select
from sqlmodel import col

from models.agency import Agency
from models.programme import today_document
from models.rules import ProgrammeVersion
from service.contacts.operations import new_agency_secret
from service.errors import Conflict, Invalid, NotFound
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust import audit

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def create_agency(
    tx: Tx, *, slug: str, name: str | None = None, offer_timeout_s: int = 60
) -> Agency:
    if not _SLUG.match(slug):
        raise Invalid(f"agency slug {slug!r} must be lowercase letters, digits and dashes")
    if not 5 <= offer_timeout_s <= 3600:
        raise Invalid("the offer timeout must be between 5 and 3600 seconds")
    if find_agency(tx, slug=slug) is not None:
        raise Conflict(f"agency {slug!r} already exists")
    agency = Agency(slug=slug, name=name or slug, offer_timeout_s=offer_timeout_s)
    tx.session.add(agency)
    tx.session.flush()
    # Every agency starts with the plan agencies had before programmes were written down.
    tx.session.add(
        ProgrammeVersion(
            agency_id=agency.id,
            version=1,
            document=today_document(),
            set_by="agency created: the default programme",
            set_at=tx.now,
        )
    )
    new_agency_secret(tx, agency.id)
    tx.session.flush()
    return agency


def update_agency(
    tx: Tx,
    *,
    slug: str,
    offer_timeout_s: int | None = None,
    officers_see_narrative: bool | None = None,
    officers_see_substance_use: bool | None = None,
) -> Agency:
    """Change an agency's settings; None leaves a setting as it is. Consoles already
    open keep what they were shown until they reconnect."""
    agency = get_agency(tx, slug=slug)
    if offer_timeout_s is not None:
        if not 5 <= offer_timeout_s <= 3600:
            raise Invalid("the offer timeout must be between 5 and 3600 seconds")
        agency.offer_timeout_s = offer_timeout_s
    if officers_see_narrative is not None:
        agency.officers_see_narrative = officers_see_narrative
    if officers_see_substance_use is not None:
        agency.officers_see_substance_use = officers_see_substance_use
    tx.session.flush()
    audit.record_command(
        tx,
        agency_id=agency.id,
        action="agency update",
        offer_timeout_s=agency.offer_timeout_s,
        officers_see_narrative=agency.officers_see_narrative,
        officers_see_substance_use=agency.officers_see_substance_use,
    )
    return agency


def find_agency(tx: Tx, *, slug: str) -> Agency | None:
    return tx.session.execute(select(Agency).where(col(Agency.slug) == slug)).scalar_one_or_none()


def get_agency(tx: Tx, *, slug: str) -> Agency:
    agency = find_agency(tx, slug=slug)
    if agency is None:
        raise NotFound(f"no agency {slug!r}; create it with `corespond agency create {slug}`")
    return agency


_OFFER_TIMEOUT = Prepared(
    select(col(Agency.offer_timeout_s)).where(col(Agency.id) == bindparam("agency_id"))
)


def offer_timeout_of(tx: Tx, agency_id: uuid.UUID) -> int:
    """How long the agency's offers stand (every offer asks it)."""
    return int(tx.run(_OFFER_TIMEOUT, {"agency_id": agency_id}).scalar_one())
