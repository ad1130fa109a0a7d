"""Agencies: the tenants every other row belongs to."""

import re
import uuid
from collections.abc import Mapping
from typing import get_args

from sqlalchemy import bindparam, select
from sqlmodel import col

from models.agency import (
    SETTING_BOUNDS,
    Agency,
    AgencySettings,
    AgencySettingsUpdate,
    MissedRule,
    Principal,
)
from models.programme import today_document
from models.rules import ProgrammeVersion
from models.vocabulary import Role
from service.contacts.operations import new_agency_secret
from service.errors import Conflict, Invalid, NotFound
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust import audit
from service.trust.access import require_role
from service.trust.audit import Actor

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def create_agency(
    tx: Tx, *, slug: str, name: str | None = None, offer_timeout_s: int = 60
) -> Agency:
    if not _SLUG.match(slug):
        raise Invalid(f"agency slug {slug!r} must be lowercase letters, digits and dashes")
    if not 5 <= offer_timeout_s <= 3600:
        raise Invalid("offer_timeout_s: the offer timeout must be between 5 and 3600 seconds")
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
    officers_see_narrative: bool | None = None,
    officers_see_substance_use: bool | None = None,
    settings: Mapping[str, int | str | None] | None = None,
) -> Agency:
    """Change an agency's settings (the offer timeout and the safety settings named in
    `models.agency.AgencySettingsUpdate`); None leaves a setting as it is. A bad value
    raises Invalid naming the field, and nothing changes. Consoles already open keep
    what they were shown until they reconnect."""
    agency = get_agency(tx, slug=slug)
    apply_settings(agency, settings or {})
    if officers_see_narrative is not None:
        agency.officers_see_narrative = officers_see_narrative
    if officers_see_substance_use is not None:
        agency.officers_see_substance_use = officers_see_substance_use
    tx.session.flush()
    audit.record_command(
        tx,
        agency_id=agency.id,
        action="agency update",
        officers_see_narrative=agency.officers_see_narrative,
        officers_see_substance_use=agency.officers_see_substance_use,
        **AgencySettings.of(agency).model_dump(exclude={"name", "slug"}),
    )
    return agency


def read_settings(tx: Tx, *, principal: Principal) -> AgencySettings:
    """The principal's agency's name, slug and settings (any principal of the agency)."""
    agency = tx.session.get(Agency, principal.agency_id)
    assert agency is not None  # a token's agency is never deleted
    return AgencySettings.of(agency)


def change_settings(tx: Tx, *, by: Actor, body: AgencySettingsUpdate) -> AgencySettings:
    """`PATCH /v1/agency` (admins): the fields given change; the audit keeps old and new."""
    require_role(by.who, frozenset({Role.admin}), "change the agency's settings")
    agency = tx.session.get(Agency, by.who.agency_id)
    assert agency is not None
    given = body.model_dump(exclude_none=True)
    old = AgencySettings.of(agency).model_dump(include=set(given))
    apply_settings(agency, given)
    tx.session.flush()
    by.detail = {"old": old, "new": given}
    return AgencySettings.of(agency)


def apply_settings(agency: Agency, settings: Mapping[str, int | str | None]) -> None:
    """Check every given setting, then set them all: one bad value changes none."""
    checked: dict[str, int | str] = {}
    for name, value in settings.items():
        if value is None:
            continue
        if name == "checkin_missed_rule":
            if value not in get_args(MissedRule):
                raise Invalid(
                    f"checkin_missed_rule: {value!r} is not a rule; use `backup` (offer the "
                    "nearest available CIT officer as backup) or `alarm` (alarm only)"
                )
        elif name in SETTING_BOUNDS:
            low, high = SETTING_BOUNDS[name]
            off = name == "checkin_interval_s" and value == 0
            if not isinstance(value, int) or not (off or low <= value <= high):
                extra = " (or 0 to turn check-ins off)" if name == "checkin_interval_s" else ""
                raise Invalid(f"{name}: must be a whole number from {low} to {high}{extra}")
        else:
            raise Invalid(f"{name}: not an agency setting")
        checked[name] = value
    for name, value in checked.items():
        setattr(agency, name, value)


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
