"""Where the pure decisions meet the database: candidates in, offers out."""

import functools
import json
import time
import uuid
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, or_, select, update
from sqlmodel import col

from dispatch.by_road import FetchSpeaking, RoadChoice
from dispatch.cells import CellRange
from dispatch.config import DispatchConfig
from dispatch.index import ResponderIndex
from dispatch.plan import RoleNeed
from dispatch.ranking import CallSite, Candidate, Choice, Fetch, choose_responder, is_eligible
from models.call import Assignment, AssignmentPublic, Call, call_date
from models.columns import iso_utc
from models.emergency import EMERGENCY_TEAM
from models.responder import Responder
from models.vocabulary import (
    ACTIVE_ASSIGNMENT_STATES,
    AssignmentState,
    OfferPurpose,
    ResponderStatus,
)
from service.store.prepared import Prepared, inserting, transient
from service.store.transaction import Tx

# A reservation can lose a race to another replica; try the next best this often.
_RESERVE_ATTEMPTS = 5
# What an assignment's ETA was made with when no road network made it.
STRAIGHT_LINE = "straight line"


def site_of(call: Call) -> CallSite:
    return CallSite(lat=call.lat, lon=call.lon, on=call_date(call), language=call.language)


def needs_of(call: Call) -> list[RoleNeed]:
    """The plan's roles as stored on the call."""
    return needs_from(call.plan_roles)


def needs_from(roles: list[dict[str, Any]]) -> list[RoleNeed]:
    """Roles as a call stores them (`plan_roles`, a fallback's `roles`), as decided on."""
    return [
        RoleNeed(
            role=r["role"],
            kind=r["kind"],
            cit_required=r["cit_required"],
            preferred_skills=frozenset(r["preferred_skills"]),
            prefer_language=r.get("prefer_language", True),
        )
        for r in roles
    ]


@functools.lru_cache(maxsize=4096)
def _tags(stored: str | None) -> frozenset[str]:
    """A JSON list of languages or skills as a set. Most responders share a few such
    lists (`["en"]`, `[]`), so each is parsed once, not once a row a search."""
    return frozenset(json.loads(stored)) if stored else frozenset()


def _candidate(row: Any) -> Candidate:  # a row of _AVAILABLE
    return Candidate(
        id=row.id,
        kind=row.kind,
        lat=row.lat,
        lon=row.lon,
        cit_certified_until=row.cit_certified_until,
        languages=_tags(row.languages),
        skills=_tags(row.skills),
    )


_COLUMNS = select(
    col(Responder.id),
    col(Responder.kind),
    col(Responder.lat),
    col(Responder.lon),
    col(Responder.cit_certified_until),
    cast(col(Responder.languages), String).label("languages"),
    cast(col(Responder.skills), String).label("skills"),
    col(Responder.position_cell),
)


def _free_of_kind() -> list[Any]:
    return [
        col(Responder.agency_id) == bindparam("agency_id"),
        col(Responder.kind) == bindparam("kind"),
        col(Responder.status) == ResponderStatus.available,
    ]


_AVAILABLE = Prepared(_COLUMNS.where(*_free_of_kind()))


@functools.lru_cache(maxsize=256)
def _available_in_ranges(count: int, *, speaking: bool = False) -> Prepared:
    """The ring query for `count` cell ranges, built once: building and keying a fresh
    expression for every ring cost more than running it. `speaking`: only those whose
    languages hold the `speaks` pattern, tested in each range's condition.

    Every range is a whole condition, `(agency AND kind AND available AND cell
    BETWEEN lo AND hi) OR (…)`, so SQLite scans the search index once a range
    (MULTI-INDEX OR) and PostgreSQL ORs bitmap scans. With the ranges alone ORed
    inside one condition, SQLite read every available responder of the kind and
    filtered the cells: 159 µs instead of 34 for a narrow ring at 10,000.
    """
    cell = col(Responder.position_cell)
    speaks = [cast(col(Responder.languages), String).like(bindparam("speaks"))] if speaking else []
    return Prepared(
        _COLUMNS.where(
            or_(
                *(
                    and_(
                        *_free_of_kind(),
                        cell.between(bindparam(f"lo{i}"), bindparam(f"hi{i}")),
                        *speaks,
                    )
                    for i in range(count)
                )
            )
        )
    )


def available_in(tx: Tx, *, agency_id: uuid.UUID, kind: str) -> Fetch:
    """A `Fetch` over the agency's available responders of `kind`, one query a ring."""

    def fetch(ranges: Sequence[CellRange]) -> list[Candidate]:
        params: dict[str, Any] = {"agency_id": agency_id, "kind": kind}
        for i, r in enumerate(ranges):
            params[f"lo{i}"], params[f"hi{i}"] = r.lo, r.hi
        return [_candidate(row) for row in tx.run(_available_in_ranges(len(ranges)), params)]

    return fetch


def speaking_in(tx: Tx, *, agency_id: uuid.UUID, kind: str) -> FetchSpeaking:
    """`available_in` filtered by a language (a `by_road.FetchSpeaking`): the database
    drops those who do not speak it, so a rare language's far search reads rows in the
    index and builds only its few speakers."""

    def fetch(ranges: Sequence[CellRange], language: str) -> list[Candidate]:
        # The list as stored holds the tag quoted; a tag is letters, digits and
        # hyphens (`LanguageTag`), and SQLite's LIKE ignoring case only adds rows, whom
        # the search's own test of the languages then treats as not speaking it.
        params: dict[str, Any] = {"agency_id": agency_id, "kind": kind, "speaks": f'%"{language}"%'}
        for i, r in enumerate(ranges):
            params[f"lo{i}"], params[f"hi{i}"] = r.lo, r.hi
        query = _available_in_ranges(len(ranges), speaking=True)
        return [_candidate(row) for row in tx.run(query, params)]

    return fetch


def all_available(tx: Tx, *, agency_id: uuid.UUID, kind: str) -> Fetch:
    """A `Fetch` over the agency's available responders of `kind`, read in one query and
    searched in memory: for re-planning many waiting calls, when few are free."""
    rows = tx.run(_AVAILABLE, {"agency_id": agency_id, "kind": kind})
    return ResponderIndex.filed(
        (row.position_cell, _candidate(row)) for row in rows if row.position_cell is not None
    ).fetch


_RESERVE = Prepared(
    update(Responder)
    .where(
        col(Responder.id) == bindparam("b_responder"),
        col(Responder.agency_id) == bindparam("b_agency"),
        col(Responder.status) == ResponderStatus.available,
    )
    .values(status=ResponderStatus.offered, status_changed_at=bindparam("b_now"))
)


def reserve(tx: Tx, *, agency_id: uuid.UUID, responder_id: uuid.UUID) -> bool:
    """Take an available responder for an offer; False if someone else got there first.

    A statement built once (the ORM's bulk-update path cost a millisecond and a half
    a call); a responder loaded in this transaction (one that just went available)
    is brought up to date.
    """
    result = tx.run(_RESERVE, {"b_responder": responder_id, "b_agency": agency_id, "b_now": tx.now})
    if result.rowcount != 1:
        return False
    tx.loaded_now(Responder, responder_id, status=ResponderStatus.offered, status_changed_at=tx.now)
    return True


_TRIED = Prepared(
    select(col(Assignment.responder_id)).where(
        col(Assignment.call_id) == bindparam("call_id"), col(Assignment.role) == bindparam("role")
    )
)


def active_roles(tx: Tx, call_id: uuid.UUID) -> set[str]:
    """The call's roles held by an active assignment (offered to on scene)."""
    rows = tx.session.execute(
        select(col(Assignment.role)).where(
            col(Assignment.call_id) == call_id,
            col(Assignment.state).in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
        )
    )
    return set(rows.scalars())


def backup_roles(tx: Tx, call: Call, count: int) -> list[str]:
    """`count` role names for backup seats on `call`, `backup`, `backup_2`, …, none a
    role of its team (a programme may declare a kind named `backup`) nor held by an
    active assignment (a check-in's backup and an emergency's share a call). On an
    emergency's own call the team is the backup: a seat of it nobody holds is offered
    again by its name."""
    taken = active_roles(tx, call.id)
    if seat_purpose(call) == OfferPurpose.team:
        taken |= {need.role for need in needs_of(call)}
    return backup_names(count, taken=taken)


def backup_names(count: int, *, taken: Collection[str] = ()) -> list[str]:
    """`count` of `backup`, `backup_2`, …, skipping `taken`."""
    names: list[str] = []
    n = 0
    while len(names) < count:
        n += 1
        name = "backup" if n == 1 else f"backup_{n}"
        if name not in taken:
            names.append(name)
    return names


def seat_purpose(call: Call) -> OfferPurpose:
    """What an offer of a seat of `call`'s own team is for: an emergency's own call's
    team is the backup of the responder who raised it."""
    return OfferPurpose.emergency_backup if call.plan_team == EMERGENCY_TEAM else OfferPurpose.team


def tried_for(tx: Tx, *, call_id: uuid.UUID, role: str) -> set[uuid.UUID]:
    """Everyone already offered this role on this call: never offered it again."""
    return set(tx.run(_TRIED, {"call_id": call_id, "role": role}).scalars())


_INSERT_ASSIGNMENT, _assignment_values = inserting(Assignment)


def make_offer(
    tx: Tx,
    *,
    call: Call,
    role: str,
    choice: Choice,
    offer_timeout_s: int,
    purpose: OfferPurpose,
    travel_by: str = STRAIGHT_LINE,
) -> Assignment | None:
    """Reserve the chosen responder and offer it the role, for `purpose`; None if it was
    taken meanwhile."""
    responder_id = choice.candidate.id
    assert isinstance(responder_id, uuid.UUID)
    if not reserve(tx, agency_id=call.agency_id, responder_id=responder_id):
        return None
    assignment = transient(
        Assignment,
        {
            "agency_id": call.agency_id,
            "call_id": call.id,
            "responder_id": responder_id,
            "role": role,
            "team": call.plan_team,
            "state": AssignmentState.offered,
            "eta_s": round(choice.eta_s, 1),
            "distance_m": round(choice.distance_m, 1),
            "travel_by": travel_by,
            "purpose": purpose,
            "offered_at": tx.now,
            "offer_expires_at": tx.now + timedelta(seconds=offer_timeout_s),
        },
    )
    tx.run(_INSERT_ASSIGNMENT, _assignment_values(assignment))  # prepared: not through the session
    tx.record(
        "assignment.offered",
        agency_id=call.agency_id,
        call_id=call.id,
        responder_id=responder_id,
        assignment_id=assignment.id,
        data={
            "assignment": AssignmentPublic.of(assignment).model_dump(mode="json"),
            "call": call_summary(call),
        },
    )
    return assignment


def offer_role(
    tx: Tx,
    *,
    call: Call,
    need: RoleNeed,
    config: DispatchConfig,
    offer_timeout_s: int,
    by_road: Sequence[Choice] = (),
    travel_by: str = STRAIGHT_LINE,
    purpose: OfferPurpose | None = None,
) -> Assignment | None:
    """Offer `need` on `call` to the best responder nobody has tried for it yet: the
    first of `by_road` (ranked by road before the write, by `travel_by`) still free,
    else the best by the straight-line estimate. For `purpose`: by default, a seat of
    the call's team (`seat_purpose`).

    Returns None when nobody eligible is available: the role stays missing.
    """
    exclude = tried_for(tx, call_id=call.id, role=need.role)
    offer_to = functools.partial(
        make_offer,
        tx,
        call=call,
        role=need.role,
        offer_timeout_s=offer_timeout_s,
        purpose=purpose or seat_purpose(call),
    )
    on = call_date(call)
    for ranked in by_road:
        # ranked before this write, perhaps for a plan since changed: it must still fit
        if ranked.candidate.id in exclude or not is_eligible(ranked.candidate, need, on):
            continue
        # a responder the engine had no route for was ranked in a straight line
        routed = not isinstance(ranked, RoadChoice) or ranked.by_road
        offer = offer_to(choice=ranked, travel_by=travel_by if routed else STRAIGHT_LINE)
        if offer is not None:
            return offer
        exclude.add(ranked.candidate.id)  # type: ignore[arg-type]
    fetch = available_in(tx, agency_id=call.agency_id, kind=need.kind)
    for _ in range(_RESERVE_ATTEMPTS):
        started = time.perf_counter()
        choice = choose_responder(
            site_of(call),
            need,
            fetch=fetch,
            estimator=config.estimator,
            prefs=config.prefs,
            exclude=frozenset(exclude),
        )
        config.observe_decision(time.perf_counter() - started)
        if choice is None:
            return None
        offer = offer_to(choice=choice)
        if offer is not None:
            return offer
        exclude.add(choice.candidate.id)  # type: ignore[arg-type]
    return None


def call_summary(call: Call) -> dict[str, object]:
    """What a console needs to show a call, without its narrative (read over HTTP).

    Officers kept from substance use get only the fields `trust.disclosure` lists as
    neutral, and a plan said without the category: a field added here reaches them
    only once it is listed there."""
    return {
        "id": str(call.id),
        "external_id": call.external_id,
        "location": {"lat": call.lat, "lon": call.lon, "address": call.address},
        "category": call.category,
        "risk": {"weapon": call.weapon, "violence": call.violence, "medical": call.medical},
        "priority": call.priority,
        "language": call.language,
        "status": call.status,
        "plan": {
            "rule": call.plan_rule,
            "team": call.plan_team,
            "roles": call.plan_roles,
            "reason": call.plan_reason,
            "ems": call.plan_ems,
            "fallback_at": iso_utc(call.plan_fallback_at) if call.plan_fallback_at else None,
            "fallback_team": call.plan_fallback[0]["team"] if call.plan_fallback else None,
        },
        "has_narrative": bool(call.narrative),
        "received_at": iso_utc(call.received_at),
    }
