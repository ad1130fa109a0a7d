"""Bearer tokens: issued random, kept as SHA-256, looked up on every request."""

import hashlib
import secrets
import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, or_, select
from sqlmodel import col

from models.agency import Agency, ApiToken, Principal
from models.responder import Responder
from models.vocabulary import Role
from service.store.prepared import Prepared
from service.store.transaction import Tx
from service.trust.disclosure import disclosure_for

TOKEN_PREFIX = "cr_"  # noqa: S105 (a prefix, not a secret)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    tx: Tx,
    *,
    agency: Agency,
    role: Role,
    responder_id: uuid.UUID | None = None,
    label: str = "",
    expires_at: datetime | None = None,
) -> str:
    """Store a new token's hash and return the token itself, which is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tx.session.add(
        ApiToken(
            agency_id=agency.id,
            role=role,
            responder_id=responder_id,
            token_hash=hash_token(token),
            label=label,
            expires_at=expires_at,
        )
    )
    tx.session.flush()
    return token


def principal_for(tx: Tx, token: str) -> Principal | None:
    """Who `token` acts for, or None if it is unknown, revoked or expired."""
    principal, refusal = check_token(tx, token)
    return principal if refusal is None else None


def check_token(tx: Tx, token: str) -> tuple[Principal | None, str | None]:
    """Whose token it is, and why it is refused (`unknown`, `revoked`, `expired`) or None.

    A refused token's owner is still named, so that its use is audited in its agency.
    Every request asks this: the columns it needs, by a statement built once.
    """
    row = tx.run(_TOKEN, {"token_hash": hash_token(token)}).first()
    if row is None:
        return None, "unknown"
    refusal = None
    if row.revoked_at is not None:
        refusal = "revoked"
    elif row.expires_at is not None and row.expires_at <= tx.now:
        refusal = "expired"
    role = Role(row.role)
    sees_narrative, sees_substance_use = disclosure_for(
        role,
        row.responder_kind,
        officers_see_narrative=row.officers_see_narrative,
        officers_see_substance_use=row.officers_see_substance_use,
    )
    return Principal(
        token_id=row.id,
        agency_id=row.agency_id,
        agency_slug=row.slug,
        role=role,
        responder_id=row.responder_id,
        sees_narrative=sees_narrative,
        sees_substance_use=sees_substance_use,
    ), refusal


_TOKEN = Prepared(
    select(
        col(ApiToken.id),
        col(ApiToken.agency_id),
        col(ApiToken.role),
        col(ApiToken.responder_id),
        col(ApiToken.expires_at),
        col(ApiToken.revoked_at),
        col(Agency.slug),
        col(Agency.officers_see_narrative),
        col(Agency.officers_see_substance_use),
        col(Responder.kind).label("responder_kind"),
    )
    .join(Agency, col(Agency.id) == col(ApiToken.agency_id))
    .outerjoin(Responder, col(Responder.id) == col(ApiToken.responder_id))
    .where(col(ApiToken.token_hash) == bindparam("token_hash"))
)


def lapsed_among(tx: Tx, *, token_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these tokens are revoked or expired by now."""
    if not token_ids:
        return set()
    return set(
        tx.session.execute(
            select(col(ApiToken.id)).where(
                col(ApiToken.id).in_(list(token_ids)),
                or_(
                    col(ApiToken.revoked_at).is_not(None),
                    col(ApiToken.expires_at) <= tx.now,
                ),
            )
        ).scalars()
    )
