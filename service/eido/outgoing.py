"""A call as an EIDO: built from the call as its reader may see it (`call_view`), so the
EIDO discloses no more than `GET /v1/calls/{id}` would.

Registry values (incident type, unit status, resource type, disposition) are
CoRespond's own names, listed in docs/eido.md: NENA's registries are not pinned here.
"""

import html
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy import select
from sqlmodel import col

from models.agency import Principal
from models.call import AssignmentPublic, CallPublic
from models.eido import (
    EIDO_VERSION,
    Agency,
    Agent,
    Caution,
    Dispatch,
    Disposition,
    Eido,
    EmergencyResource,
    Incident,
    JsonLdContext,
    LocationInformation,
    Notes,
    Reference,
    rfc3339,
)
from models.responder import Responder
from models.vocabulary import AssignmentState, Category
from service.eido.pidf import point_pidf
from service.store.transaction import Tx

ISSUER = "corespond"
# What an incident's type reads to a principal kept from knowing which calls concern
# substance use: the same on every call (see trust.disclosure).
UNDISCLOSED_TYPE = "BehavioralHealth"
INCIDENT_TYPE_OF = {
    Category.suicidal_ideation: "SuicidalIdeation",
    Category.mental_health_crisis: "MentalHealthCrisis",
    Category.substance_use: "SubstanceUse",
    Category.overdose: "Overdose",
    Category.welfare_check: "WelfareCheck",
    Category.disturbance: "Disturbance",
}
UNIT_STATUS_OF = {
    AssignmentState.offered: "Notified",
    AssignmentState.accepted: "Dispatched",
    AssignmentState.en_route: "EnRoute",
    AssignmentState.on_scene: "OnScene",
    AssignmentState.cleared: "Available",
}
RESOURCE_TYPE_OF = {
    "officer": "LawEnforcement",
    "clinician": "MentalHealth",
    "peer": "PeerSupport",
    "medic": "EMS",
}
CAUTION_OF = {"weapon": "Weapon", "violence": "Violence", "medical": "Medical"}
NARRATIVE_NOTE = "narrative"  # the last part of the narrative note's $id


class Stamp(TypedDict):
    """Every component's prologue but its `$id`: when, and by which agency."""

    last_update_time_stamp: str
    updated_by_agency_reference: Reference


@dataclass(frozen=True, slots=True)
class Unit:
    """A responder as an EIDO names it."""

    agent_id: str
    name: str
    kind: str


def incident_id_of(view: CallPublic) -> str:
    """The incident's identifier: the CAD's, or one made from the call's id."""
    return view.external_id or f"urn:emergency:uid:incidentid:{view.id.hex}:{ISSUER}"


def eido_of(
    tx: Tx, view: CallPublic, principal: Principal, *, units: dict[uuid.UUID, Unit] | None = None
) -> Eido:
    """The call `view` (as `principal` may read it) as an EIDO. `units`: its
    responders, if read already (`units_of`, for many calls at once)."""
    agency_ref = f"urn:{ISSUER}:agency:{principal.agency_slug}"
    own = Reference(ref=agency_ref)
    at = rfc3339(_last_change(view))
    prologue = Stamp(last_update_time_stamp=at, updated_by_agency_reference=own)
    base = f"urn:{ISSUER}:call:{view.id}"
    resources = [a for a in view.assignments if a.state in UNIT_STATUS_OF]
    if units is None:
        units = units_of(tx, principal, {a.responder_id for a in resources})
    location = _location(view, f"{base}:location", prologue)
    notes = _notes(view, base, prologue)
    cautions = [
        Caution(
            id=f"{base}:caution:{flag}",
            caution_type_internal_text=flag,
            caution_type_common_registry_text=said,
            caution_severity="high",
            **prologue,
        )
        for flag, said in CAUTION_OF.items()
        if getattr(view.risk, flag)
    ]
    cit_roles = {seat.role for seat in view.plan.seats if seat.cit}
    emergency_resources = [
        _resource(a, units[a.responder_id], a.role in cit_roles, prologue) for a in resources
    ]
    incident_id = incident_id_of(view)
    return Eido(
        id=incident_id,
        eido_version=EIDO_VERSION,
        issuing_element_identification=ISSUER,
        agency_component=[
            Agency(
                id=agency_ref,
                agency_role_description_registry_text=["Dispatch", "Responding"],
                agency_type=["mental_health"],
                **prologue,
            )
        ],
        incident_component=_incident(view, incident_id, location, notes, base, prologue),
        location_component=[location],
        notes_component=notes or None,
        caution_component=cautions or None,
        emergency_resource_component=emergency_resources or None,
        dispatch_component=(
            [
                Dispatch(
                    id=f"{base}:dispatch",
                    agency_reference=own,
                    emergency_resource_reference=[Reference(ref=r.id) for r in emergency_resources],
                    **prologue,
                )
            ]
            if emergency_resources
            else None
        ),
        agent_component=[
            Agent(
                id=units[responder].agent_id,
                agent_role_registry_text=["Responder"],
                agency_reference=own,
                **prologue,
            )
            for responder in dict.fromkeys(a.responder_id for a in resources)
        ]
        or None,
        context=JsonLdContext(),
        **prologue,
    )


def _incident(
    view: CallPublic,
    incident_id: str,
    location: LocationInformation,
    notes: list[Notes],
    base: str,
    prologue: Stamp,
) -> Incident:
    category = view.category
    disposition = None
    if view.disposition is not None:
        disposition = [
            Disposition(
                id=f"{base}:disposition",
                disposition_common_registry_code=view.disposition.value,
                disposition_primary_indicator=True,
                disposition_category_text=view.status.value,
                **prologue,
            )
        ]
    return Incident(
        id=incident_id,
        incident_type_common_registry_text=(
            INCIDENT_TYPE_OF[category] if category is not None else UNDISCLOSED_TYPE
        ),
        incident_type_internal_code=category.value if category is not None else None,
        incident_status_internal_text=[view.status.value],
        internal_incident_id=str(view.id),
        incident_common_priority_number=view.priority,
        location_reference=[Reference(ref=location.id)],
        notes_reference=[Reference(ref=n.id) for n in notes] or None,
        disposition_component=disposition,
        **prologue,
    )


def _location(view: CallPublic, location_id: str, prologue: Stamp) -> LocationInformation:
    return LocationInformation(
        id=location_id,
        location_type_description_registry_text="Incident",
        location_by_value=point_pidf(
            lat=view.location.lat,
            lon=view.location.lon,
            entity=f"pres:{view.id}@{ISSUER}",
            device=f"call-{view.id}",
        ),
        location_description_text=view.location.address,
        **prologue,
    )


def _notes(view: CallPublic, base: str, prologue: Stamp) -> list[Notes]:
    """The narrative, where the reader may see it, and the plan's reason as said to it."""
    said = [(NARRATIVE_NOTE, view.narrative), ("plan", f"CoRespond plan: {view.plan.reason}")]
    return [
        Notes(
            id=f"{base}:note:{name}",
            notes_action_comments=html.escape(text, quote=False).replace("\n", "<br>"),
            **prologue,
        )
        for name, text in said
        if text
    ]


def _resource(
    assignment: AssignmentPublic, unit: Unit, cit: bool, prologue: Stamp
) -> EmergencyResource:
    return EmergencyResource(
        id=f"urn:{ISSUER}:assignment:{assignment.id}",
        agent_reference=[Reference(ref=unit.agent_id)],
        emergency_resource_type_common_registry_text=RESOURCE_TYPE_OF.get(unit.kind, "Other"),
        emergency_resource_type_internal_text=assignment.role,
        resource_attribute_registry_text=["CIT"] if cit else [],
        emergency_resource_name=unit.name,
        primary_unit_status_registry_text=UNIT_STATUS_OF[assignment.state],
        secondary_unit_status_registry_text=[],
        unit_status_internal=[assignment.state.value],
        eta=rfc3339(_eta(assignment)),
        **prologue,
    )


def _eta(assignment: AssignmentPublic) -> datetime:
    """When it arrived, or when it is expected: its estimate from when it set off (or
    accepted, or was offered)."""
    if assignment.on_scene_at is not None:
        return assignment.on_scene_at
    start = assignment.en_route_at or assignment.accepted_at or assignment.offered_at
    return start + timedelta(seconds=assignment.eta_s)


def _last_change(view: CallPublic) -> datetime:
    moments: list[datetime | None] = [view.created_at, view.closed_at]
    for a in view.assignments:
        moments += [a.offered_at, a.accepted_at, a.en_route_at, a.on_scene_at, a.cleared_at]
        moments.append(a.ended_at)
    return max(m for m in moments if m is not None)


def units_of(
    tx: Tx, principal: Principal, responders: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Unit]:
    """The agency's responders among these, as EIDOs name them."""
    wanted = list(responders)
    if not wanted:
        return {}
    rows = tx.session.execute(
        select(
            col(Responder.id), col(Responder.name), col(Responder.kind), col(Responder.external_id)
        ).where(col(Responder.id).in_(wanted), col(Responder.agency_id) == principal.agency_id)
    )
    return {
        row.id: Unit(
            agent_id=row.external_id or f"urn:{ISSUER}:responder:{row.id}",
            name=row.name,
            kind=row.kind,
        )
        for row in rows
    }
