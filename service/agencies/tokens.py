"""An agency's API tokens over their life, for its administrators: issue, list, revoke."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import col

from models.agency import ApiToken
from models.responder import Responder
from models.vocabulary import Role
from service.agencies.operations import get_agency
from service.errors import Conflict, Invalid, NotFound
from service.store.transaction import Tx
from service.trust import audit, auth


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: uuid.UUID
    role: Role
    responder_id: uuid.UUID | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def create_token(
    tx: Tx,
    *,
    slug: str,
    role: Role,
    responder_id: uuid.UUID | None,
    label: str,
    expires_in: timedelta | None,
) -> str:
    """Issue a token for the agency `slug`; returns the token, which is shown once."""
    agency = get_agency(tx, slug=slug)
    if (role == Role.responder) != (responder_id is not None):
        raise Invalid("--responder is required with --role responder, and only then")
    if responder_id is not None:
        responder = tx.session.get(Responder, responder_id)
        if responder is None or responder.agency_id != agency.id:
            raise NotFound(f"no responder {responder_id} in agency {slug!r}")
    if expires_in is not None and expires_in <= timedelta(0):
        raise Invalid("a token's lifetime must be positive")
    token = auth.issue_token(
        tx,
        agency=agency,
        role=role,
        responder_id=responder_id,
        label=label,
        expires_at=tx.now + expires_in if expires_in is not None else None,
    )
    audit.record_command(
        tx, agency_id=agency.id, action="token create", role=role.value, label=label
    )
    return token


def list_tokens(tx: Tx, *, slug: str) -> list[TokenRow]:
    """The agency's tokens, newest first (their hashes stay in the database)."""
    agency = get_agency(tx, slug=slug)
    rows = tx.session.execute(
        select(ApiToken)
        .where(col(ApiToken.agency_id) == agency.id)
        .order_by(col(ApiToken.created_at).desc())
    ).scalars()
    return [
        TokenRow(
            id=t.id,
            role=Role(t.role),
            responder_id=t.responder_id,
            label=t.label,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
        )
        for t in rows
    ]


def revoke_token(tx: Tx, *, token_id: uuid.UUID) -> ApiToken:
    """Revoke at once: HTTP refuses it from now, and its open sockets close within seconds."""
    token = tx.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}; `corespond token list --agency <slug>` lists them")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} was revoked already")
    tx.changed(update(ApiToken).where(col(ApiToken.id) == token_id).values(revoked_at=tx.now))
    audit.record_command(
        tx, agency_id=token.agency_id, action="token revoke", target=f"token:{token_id}"
    )
    return token
