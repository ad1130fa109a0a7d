"""What the subscriptions read, each in one read transaction: the incident or unit a
subscription names, the incidents it starts with, and (for an agency's feed) which
incidents changed in the event log, with their EIDOs built and encoded once. The EIDOs
themselves are `eido.operations.calls_as_eidos`."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlmodel import col

from models.agency import Principal
from models.call import Assignment, Call
from models.event import Event
from models.responder import Responder
from models.vocabulary import AssignmentState, CallStatus
from service.eido.operations import calls_as_eidos, eido_json, sensitive_shown_in
from service.errors import NotFound
from service.live.events import head_seq, purged_through
from service.store.transaction import Tx

Kind = Literal["single", "new", "resource"]

OPEN = (CallStatus.pending, CallStatus.referred, CallStatus.dispatched)
ACTIVE = (
    AssignmentState.offered,
    AssignmentState.accepted,
    AssignmentState.en_route,
    AssignmentState.on_scene,
)
CLOSED_GRACE = timedelta(minutes=5)  # STA-024: a closed incident may be subscribed this long
INCIDENT_URN = "urn:emergency:uid:incidentid:"  # how an EIDO names a call without a CAD id
LOG_READ_LIMIT = 2000  # events read from the log at once
MAX_REPLAY = 10_000  # a resume further back than this sends the open incidents instead
MAX_OPEN = 10_000  # open incidents a "new" subscription starts with, at most


@dataclass(frozen=True, slots=True)
class Scope:
    """What a subscription follows: one incident, every incident, or one unit's."""

    kind: Kind
    call_id: uuid.UUID | None = None
    responder_id: uuid.UUID | None = None

    def follows(self, call_id: uuid.UUID, units: Collection[uuid.UUID]) -> bool:
        """Whether a change of this call, naming these responders, is this scope's."""
        if self.kind == "single":
            return call_id == self.call_id
        if self.kind == "resource":
            return self.responder_id in units
        return True


@dataclass(frozen=True, slots=True)
class Start:
    """Where a new subscription starts: the log's head, and the incidents it is sent
    first (with the seq each was read at)."""

    head: int
    first: list[tuple[uuid.UUID, int]]
    resumed: bool  # what changed after the resume point; else the open incidents


@dataclass(frozen=True, slots=True)
class Built:
    """A call's EIDO as sent (JSON text, encoded once for every subscriber), and which
    of the call's sensitive details it shows (`trust.audit.sensitive_shown`)."""

    call_id: uuid.UUID
    text: str
    sensitive: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A call that changed in the log: the seqs of its first and last change read, the
    responders those changes named, and its EIDO now."""

    first: int
    last: int
    units: frozenset[uuid.UUID]
    eido: Built


@dataclass(frozen=True, slots=True)
class News:
    """What changed after a feed's cursor, and how far the log was read."""

    through: int
    changes: list[Change]


def find_incident(tx: Tx, *, principal: Principal, incident_id: str, resuming: bool) -> Scope:
    """The call an `incidentId` names: the CAD's own id (`external_id`), the id an EIDO
    gave it (`urn:emergency:uid:incidentid:<hex>:…`), or the call's UUID. NotFound if
    the agency has none, or it closed more than five minutes ago (unless resuming)."""
    query = select(col(Call.id), col(Call.closed_at)).where(
        col(Call.agency_id) == principal.agency_id
    )
    row = tx.session.execute(query.where(col(Call.external_id) == incident_id)).first()
    own = _own_id(incident_id)
    if row is None and own is not None:
        row = tx.session.execute(query.where(col(Call.id) == own)).first()
    if row is None:
        raise NotFound(f"no incident {incident_id!r} in this agency")
    if row.closed_at is not None and row.closed_at < tx.now - CLOSED_GRACE and not resuming:
        raise NotFound(f"incident {incident_id!r} closed more than five minutes ago")
    return Scope("single", call_id=row.id)


def _own_id(incident_id: str) -> uuid.UUID | None:
    text = incident_id
    if text.startswith(INCIDENT_URN):
        text = text.removeprefix(INCIDENT_URN).split(":", 1)[0]
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def find_unit(tx: Tx, *, principal: Principal, unit_id: str) -> Scope:
    """The responder a `unitId` names: its `external_id` (the CAD's unit) or its UUID."""
    query = select(col(Responder.id)).where(col(Responder.agency_id) == principal.agency_id)
    found = tx.session.execute(query.where(col(Responder.external_id) == unit_id)).scalar()
    if found is None and (own := _own_id(unit_id)) is not None:
        found = tx.session.execute(query.where(col(Responder.id) == own)).scalar()
    if found is None:
        raise NotFound(f"no unit {unit_id!r} in this agency")
    return Scope("resource", responder_id=found)


def start(tx: Tx, *, principal: Principal, scope: Scope, resume_after: int | None) -> Start:
    """What a new subscription sends first: with a resume point still in the log, each
    incident that changed after it; otherwise the incident, the open incidents, or the
    unit's (as STA-024 has a new subscription start)."""
    head = head_seq(tx)
    if resume_after is not None and _replayable(tx, principal, resume_after, head):
        changed = changed_since(
            tx, principal=principal, scope=scope, after=resume_after, through=head
        )
        return Start(head=head, first=changed, resumed=True)
    return Start(head=head, first=[(c, head) for c in _open(tx, principal, scope)], resumed=False)


def _replayable(tx: Tx, principal: Principal, after: int, head: int) -> bool:
    if after >= head:
        return True
    if after < purged_through(tx):
        return False
    later = (
        select(col(Event.seq))
        .where(col(Event.agency_id) == principal.agency_id, col(Event.seq) > after)
        .limit(MAX_REPLAY + 1)
        .subquery()
    )
    return int(tx.session.execute(select(func.count()).select_from(later)).scalar_one()) <= (
        MAX_REPLAY
    )


def _open(tx: Tx, principal: Principal, scope: Scope) -> list[uuid.UUID]:
    if scope.kind == "single":
        assert scope.call_id is not None
        return [scope.call_id]
    query = select(col(Call.id)).where(col(Call.agency_id) == principal.agency_id)
    if scope.kind == "resource":
        query = query.join(Assignment, col(Assignment.call_id) == col(Call.id)).where(
            col(Assignment.responder_id) == scope.responder_id,
            col(Assignment.state).in_(ACTIVE),
        )
    else:
        query = query.where(col(Call.status).in_(OPEN))
    query = query.order_by(col(Call.received_at), col(Call.id)).limit(MAX_OPEN)
    return list(dict.fromkeys(tx.session.execute(query).scalars()))


def changed_since(
    tx: Tx, *, principal: Principal, scope: Scope, after: int, through: int
) -> list[tuple[uuid.UUID, int]]:
    """The calls in `scope` with events in (`after`, `through`], in the order they first
    changed, each with the seq of its last change (at most `MAX_REPLAY` events read)."""
    rows = tx.session.execute(
        _events(principal, after, through).limit(MAX_REPLAY + LOG_READ_LIMIT)
    ).all()
    last: dict[uuid.UUID, int] = {}
    for row in rows:
        if row.call_id is not None and scope.follows(row.call_id, (row.responder_id,)):
            last[row.call_id] = row.seq
    return list(last.items())


def read_news(tx: Tx, *, principal: Principal, after: int, scopes: Sequence[Scope]) -> News:
    """An agency's news for its feed: the calls changed after seq `after` (up to
    `LOG_READ_LIMIT` events; `through` says how far) that any of `scopes` follows, each
    with its EIDO as `principal` may see it."""
    head = head_seq(tx)
    rows = tx.session.execute(_events(principal, after, head).limit(LOG_READ_LIMIT)).all()
    through = head if len(rows) < LOG_READ_LIMIT else rows[-1].seq
    seqs: dict[uuid.UUID, list[int]] = {}
    units: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in rows:
        seqs.setdefault(row.call_id, []).append(row.seq)
        if row.responder_id is not None:
            units.setdefault(row.call_id, set()).add(row.responder_id)
    wanted = [
        call for call in seqs if any(scope.follows(call, units.get(call, ())) for scope in scopes)
    ]
    built = built_eidos(tx, principal=principal, call_ids=wanted)
    return News(
        through=through,
        changes=[
            Change(seqs[c][0], seqs[c][-1], frozenset(units.get(c, ())), built[c])
            for c in wanted
            if c in built
        ],
    )


def _events(principal: Principal, after: int, through: int) -> "Select[int, Any, Any]":
    return (
        select(col(Event.seq), col(Event.call_id), col(Event.responder_id))
        .where(
            col(Event.agency_id) == principal.agency_id,
            col(Event.call_id).is_not(None),
            col(Event.seq) > after,
            col(Event.seq) <= through,
        )
        .order_by(col(Event.seq))
    )


def built_eidos(
    tx: Tx, *, principal: Principal, call_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Built]:
    """Each call's EIDO as `principal` may see it, encoded as sent; a call it may not
    see is left out."""
    built: dict[uuid.UUID, Built] = {}
    for call_id, eido in calls_as_eidos(tx, principal=principal, call_ids=call_ids).items():
        built[call_id] = Built(call_id, eido_json(eido), tuple(sensitive_shown_in(eido)))
    return built
