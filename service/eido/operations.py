"""EIDO use cases: a call read as an EIDO, an EIDO taken in as a call. One transaction
each; the incident-type mapping's are in `mapping`."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlmodel import col

from dispatch.config import DispatchConfig
from dispatch.roads import RoadTimes
from models.agency import Principal
from models.call import Call, CallCreate, CallUpdate
from models.eido import Eido, EidoTaken
from service.calls import by_road
from service.calls.operations import calls_seen, create_call, get_call, views_of
from service.calls.updates import update_call
from service.dispatching.routed import Routed
from service.eido.incoming import Incoming, read_incident
from service.eido.mapping import mapping_of
from service.eido.outgoing import NARRATIVE_NOTE, eido_of, units_of
from service.errors import Conflict, Invalid, NotFound, describe_errors
from service.store.transaction import Tx
from service.trust.access import CALL_TAKERS, require_role
from service.trust.disclosure import SUBSTANCE_USE

SAME_PLACE_DEG = 1e-6  # a later EIDO's place this close (in degrees) is the same place


def call_as_eido(tx: Tx, *, principal: Principal, call_id: uuid.UUID) -> Eido:
    """The call as an EIDO (valid against NENA's EIDO 1.0 schema once dumped with
    `exclude_none`), showing only what `principal` may read of it: the narrative note
    and the incident's type follow `call_view`'s disclosure rules, a responder sees
    itself among the resources and no one else. NotFound, as `read_call`, for a call it
    may not see.

    Whoever sends it on must audit what it shows, as for a call (`sensitive_shown_in`)."""
    eido = calls_as_eidos(tx, principal=principal, call_ids=[call_id]).get(call_id)
    if eido is None:
        raise NotFound(f"no call {call_id} in this agency")
    return eido


def calls_as_eidos(
    tx: Tx, *, principal: Principal, call_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Eido]:
    """`call_as_eido` of each of the calls `principal` may see (the rest are left out),
    read in a few queries for all of them, not a few for each."""
    views = views_of(tx, calls_seen(tx, principal=principal, call_ids=call_ids), principal)
    units = units_of(tx, principal, {a.responder_id for view in views for a in view.assignments})
    return {view.id: eido_of(tx, view, principal, units=units) for view in views}


def eido_json(eido: Eido) -> str:
    """The EIDO as sent: compact JSON, members that are None left out (pydantic's own
    encoder: half the time of `model_dump` and `json.dumps`, the same text)."""
    return eido.model_dump_json(exclude_none=True)


def sensitive_shown_in(eido: Eido) -> list[str]:
    """Which of a call's sensitive details this EIDO (from `call_as_eido`) shows, named
    as `trust.audit.sensitive_shown` names them: its reading is audited."""
    shown = []
    if any(note.id.endswith(f":note:{NARRATIVE_NOTE}") for note in eido.notes_component or []):
        shown.append("narrative")
    incident = eido.incident_component
    if incident is not None and incident.incident_type_internal_code in SUBSTANCE_USE:
        shown.append("category")
    return shown


@dataclass(frozen=True, slots=True)
class Intake:
    """An EIDO read before its write: the call it describes, and the call it updates."""

    incoming: Incoming
    existing: uuid.UUID | None

    def call_create(self) -> CallCreate:
        """The new call's body; 422 if a value is not one a call takes."""
        i = self.incoming
        try:
            return CallCreate.model_validate(
                {
                    "external_id": i.external_id,
                    "location": {"lat": i.lat, "lon": i.lon, "address": i.address},
                    "category": i.category,
                    "risk": dict.fromkeys(i.raised, True),
                    "priority": i.priority,
                    "narrative": i.narrative,
                    "person": i.person.model_dump(mode="json") if i.person else None,
                }
            )
        except ValidationError as exc:
            raise Invalid(
                f"the EIDO maps to a call CoRespond cannot take: {describe_errors(exc.errors())}"
            ) from None


def read_eido(tx: Tx, *, principal: Principal, eido: Eido, document: dict[str, Any]) -> Intake:
    """What the EIDO says, by the agency's mapping, and which call (if any) it updates:
    read before the write, so that a refusal writes nothing and the answer's status
    (201 or 200) is known before it runs."""
    require_role(principal, CALL_TAKERS, "send EIDOs")
    incoming = read_incident(eido, document, mapping_of(tx, principal.agency_id))
    return Intake(incoming=incoming, existing=_call_of(tx, principal, incoming.external_id))


def take_eido(
    tx: Tx,
    *,
    principal: Principal,
    intake: Intake,
    config: DispatchConfig,
    routed: Routed | None = None,
) -> EidoTaken:
    """Make the call the EIDO describes, or update the call of its incident: its
    category, priority and narrative change, a caution raises a risk flag (an EIDO never
    lowers one), its place never moves (a call in another place is another call). What
    the EIDO carried besides is kept with the call, replacing the last EIDO's."""
    require_role(principal, CALL_TAKERS, "send EIDOs")
    incoming = intake.incoming
    existing = _call_of(tx, principal, incoming.external_id)
    if existing != intake.existing:
        raise Conflict(
            f"another EIDO for incident {incoming.external_id!r} was taken at the same "
            "moment; send this one again"
        )
    unmapped = list(incoming.unmapped)
    kept = dict(incoming.kept)
    if existing is None:
        call_id = create_call(
            tx, principal=principal, body=intake.call_create(), config=config, routed=routed
        ).id
    else:
        call_id = existing
        if _update(tx, principal, call_id, incoming, config, routed):  # moved: kept only
            unmapped.append(incoming.place)
            kept[incoming.place] = incoming.place_sent
    tx.changed(update(Call).where(col(Call.id) == call_id).values(eido_kept=kept))
    return EidoTaken(
        id=call_id, created=existing is None, unmapped=unmapped, not_kept=incoming.not_kept
    )


def _update(
    tx: Tx,
    principal: Principal,
    call_id: uuid.UUID,
    incoming: Incoming,
    config: DispatchConfig,
    routed: Routed | None,
) -> bool:
    """Apply what changed; whether the EIDO's place is elsewhere than the call's."""
    call = get_call(tx, principal=principal, call_id=call_id)
    body = _changes(call, incoming)
    if body is not None:
        update_call(
            tx, principal=principal, call_id=call_id, body=body, config=config, routed=routed
        )
    return (
        abs(call.lat - incoming.lat) > SAME_PLACE_DEG
        or abs(call.lon - incoming.lon) > SAME_PLACE_DEG
    )


def _changes(call: Call, incoming: Incoming) -> CallUpdate | None:
    """What a later EIDO changes of its call: category, priority, narrative, and risk
    flags raised (never lowered); None if nothing."""
    given: dict[str, Any] = {}
    if call.category != incoming.category:
        given["category"] = incoming.category
    if call.priority != incoming.priority:
        given["priority"] = incoming.priority
    if incoming.narrative is not None and incoming.narrative != call.narrative:
        given["narrative"] = incoming.narrative
    raised = {flag: True for flag in sorted(incoming.raised) if not getattr(call, flag)}
    if raised:
        given["risk"] = raised
    return CallUpdate.model_validate(given) if given else None


def route_update(
    tx: Tx, *, principal: Principal, intake: Intake, config: DispatchConfig, roads: RoadTimes
) -> Routed | None:
    """Before a later EIDO's write: a new team's seats ranked by road, when the changes
    it brings will send one (`calls.by_road.route_update`)."""
    call = tx.session.get(Call, intake.existing) if intake.existing is not None else None
    if call is None or call.agency_id != principal.agency_id:
        return None
    body = _changes(call, intake.incoming)
    if body is None:
        return None
    return by_road.route_update(
        tx, principal=principal, call_id=call.id, body=body, config=config, roads=roads
    )


def _call_of(tx: Tx, principal: Principal, external_id: str) -> uuid.UUID | None:
    found: uuid.UUID | None = tx.session.execute(
        select(col(Call.id)).where(
            col(Call.agency_id) == principal.agency_id, col(Call.external_id) == external_id
        )
    ).scalar_one_or_none()
    return found
