"""Reading the trail: the filters as the route and the command take them, and the whole
trail on the server's host.

Refusals of an unknown token and probes of unrouted paths belong to no agency, so no
agency's supervisor reads them over HTTP; the server's operator does, with `corespond
audit list` on the host, which reads every agency's records and those of none. A token
of a system scope could have served them over HTTP instead, but it would be the one
secret that opens every tenant's trail, for records only the host's operator acts on.
"""

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, TypeAdapter
from sqlalchemy import select
from sqlmodel import col

from models.agency import Agency
from models.audit import AuditPublic, AuditRecord
from models.columns import UTCMoment
from service.agencies.operations import get_agency
from service.store.transaction import Tx
from service.trust import audit

Outcome = Literal["success", "denied", "rejected", "failed"]

# Audit ids are BIGINTs on PostgreSQL; SQLite's INTEGER holds no more either.
MAX_ID = 2**63 - 1

_ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_8601_only(value: object) -> object:
    # Pydantic would take `0.5` or `1767225600` as seconds since 1970: a reader who
    # meant something else would get a silently wrong page of the trail.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_8601.match(value)):
        return value
    raise ValueError("give an ISO 8601 date and time with its offset, e.g. 2026-05-01T08:00:00Z")


Moment = Annotated[UTCMoment, BeforeValidator(_iso_8601_only)]
"""A bound of a search of the trail: ISO 8601 with its offset, never a number."""

MOMENT: TypeAdapter[datetime] = TypeAdapter(Moment)


class HostRecord(AuditPublic):
    """A record as the host reads it: with its agency's slug (None: nobody's)."""

    agency: str | None


def list_on_host(
    tx: Tx, *, query: audit.AuditQuery, slug: str | None = None, nobodys: bool = False
) -> list[HostRecord]:
    """Records of every agency, newest first, filtered as `GET /v1/audit` filters; only
    one agency's (`slug`), or only those of none (`nobodys`). The read is itself recorded,
    under the agency it read, or none."""
    q = audit.filtered(query)
    agency_id: uuid.UUID | None = None
    if nobodys:
        q = q.where(col(AuditRecord.agency_id).is_(None))
    elif slug is not None:
        agency_id = get_agency(tx, slug=slug).id
        q = q.where(col(AuditRecord.agency_id) == agency_id)
    rows = list(tx.session.execute(q).scalars())
    slugs = _slugs(tx, {r.agency_id for r in rows if r.agency_id is not None})
    found = [
        HostRecord.model_validate(
            {**AuditPublic.of(r).model_dump(), "agency": slugs.get(r.agency_id)}
        )
        for r in rows
    ]
    scope = {"agency": slug} if slug else {"nobodys": True} if nobodys else {}
    audit.record_command(
        tx,
        agency_id=agency_id,
        action="audit list",
        filters=query.given(),
        records=len(found),
        **scope,
    )
    return found


def _slugs(tx: Tx, ids: set[uuid.UUID]) -> dict[uuid.UUID | None, str]:
    if not ids:
        return {}
    named = select(col(Agency.id), col(Agency.slug)).where(col(Agency.id).in_(ids))
    return dict(tx.session.execute(named).tuples().all())
