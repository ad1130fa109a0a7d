"""NENA EIDO over HTTP: `POST /v1/eido` takes a CAD's incident, `GET /v1/calls/{id}/eido`
answers a call as one, and `/v1/eido/mapping` is the agency's incident-type mapping."""

import time
import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse

from models.eido import EidoDocument, EidoTaken, IncidentTypeMapping, IncidentTypeMappingPublic
from service.calls import by_road
from service.eido import mapping, operations
from service.eido.parsing import parse_eido
from service.trust import audit
from service.trust.access import CALL_TAKERS, require_role
from service.trust.audit import Actor
from service.web.deps import CurrentActor, State
from service.web.responses import errors
from service.web.run_once import RunOnce
from service.web.state import AppState

router = APIRouter(tags=["eido"])

_EIDO = Body(
    description="An EIDO (NENA-STA-021, JSON 1.0); docs/eido.md says what is mapped.",
    openapi_examples={
        "point": {
            "summary": "A behavioural-health incident at a point",
            "value": {
                "$id": "urn:emergency:uid:incidentid:4711:psap.example.gov",
                "lastUpdateTimeStamp": "2026-03-02T14:40:00-05:00",
                "updatedByAgencyReference": {"$ref": "psap.example.gov"},
                "eidoVersion": "1.0",
                "issuingElementIdentification": "cad.psap.example.gov",
                "agencyComponent": [
                    {
                        "$id": "psap.example.gov",
                        "lastUpdateTimeStamp": "2026-03-02T14:40:00-05:00",
                        "updatedByAgencyReference": {"$ref": "psap.example.gov"},
                        "agencyRoleDescriptionRegistryText": ["CallReceiving"],
                        "agencyType": ["psap"],
                    }
                ],
                "incidentComponent": {
                    "$id": "urn:emergency:uid:incidentid:4711:psap.example.gov",
                    "lastUpdateTimeStamp": "2026-03-02T14:40:00-05:00",
                    "updatedByAgencyReference": {"$ref": "psap.example.gov"},
                    "incidentTypeCommonRegistryText": "MentalHealthCrisis",
                    "incidentCommonPriorityNumber": 2,
                    "locationReference": [{"$ref": "loc-1"}],
                },
                "locationComponent": [
                    {
                        "$id": "loc-1",
                        "lastUpdateTimeStamp": "2026-03-02T14:40:00-05:00",
                        "updatedByAgencyReference": {"$ref": "psap.example.gov"},
                        "locationTypeDescriptionRegistryText": "Incident",
                        "locationByValue": '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
                        'xmlns:gml="http://www.opengis.net/gml" entity="pres:x@example.gov">'
                        '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
                        "<gml:pos>40.1215 -75.3399</gml:pos></gml:Point></presence>",
                    }
                ],
            },
        }
    },
)


@router.post(
    "/v1/eido",
    status_code=201,
    response_model=EidoTaken,
    responses={
        **errors(403, 409, 422),
        200: {"model": EidoTaken, "description": "The incident's call, updated."},
    },
)
async def take_eido(document: Annotated[dict[str, Any], _EIDO], once: RunOnce) -> JSONResponse:
    """Take a CAD's EIDO: the first for an incident makes a call (201), a later one
    updates that call (200). The incident is known by its `incidentComponent`'s `$id`
    (else the EIDO's), which becomes the call's `external_id`.

    The answer is `{id, created, unmapped, not_kept}`: `unmapped` lists the JSON paths
    of what the call has no field for, kept with the call verbatim; `not_kept` the
    personal details that CoRespond does not store. An EIDO that does not follow the
    schema is refused (422) with each problem's JSON path under `errors`; so is one
    with no coordinates CoRespond can use. Send an `Idempotency-Key` to make retries
    safe, as for `POST /v1/calls`.
    """
    started = time.perf_counter()
    state, principal = once.state, once.principal
    require_role(principal, CALL_TAKERS, "send EIDOs")
    eido, spelled = parse_eido(document)
    intake = await state.uow.read(
        operations.read_eido, principal=principal, eido=eido, document=spelled
    )
    config = state.dispatch
    routed = None
    if intake.existing is not None:
        once.actor.target = f"call:{intake.existing}"
        if config.roads is not None:  # a new team's seats, asked before the write
            routed = await state.uow.read(
                operations.route_update,
                principal=principal,
                intake=intake,
                config=config,
                roads=config.roads,
            )
    elif config.roads is not None:  # asked before the write, so it never holds the lock
        routed = await state.uow.read(
            by_road.route_intake,
            principal=principal,
            body=intake.call_create(),
            config=config,
            roads=config.roads,
        )
    response = await once.run(
        body=EidoDocument(document),
        status=201 if intake.existing is None else 200,
        roles=CALL_TAKERS,
        action="send EIDOs",
        work=partial(
            operations.take_eido, principal=principal, intake=intake, config=config, routed=routed
        ),
    )
    if response.status_code == 201 and "Idempotent-Replayed" not in response.headers:
        # A call taken in as an EIDO is a call taken in: the same intake figures.
        state.metrics.intake_seconds.observe(time.perf_counter() - started)
        state.metrics.calls.inc()
    return response


@router.get("/v1/calls/{call_id}/eido", responses=errors(404))
async def get_call_as_eido(call_id: uuid.UUID, actor: CurrentActor, state: State) -> Response:
    """The call as a NENA EIDO (NENA-STA-021, JSON 1.0): the incident, its location as a
    PIDF-LO point, an `emergencyResourceComponent` for each responder with its unit
    status and ETA, the notes this token may read, and a `dispositionComponent` once
    closed. What is withheld from `GET /v1/calls/{id}` is withheld here, and a reading of
    sensitive fields is recorded in the audit log as there."""
    eido = await state.uow.read(operations.call_as_eido, principal=actor.who, call_id=call_id)
    await _audit_sensitive_read(state, actor, call_id, operations.sensitive_shown_in(eido))
    return Response(operations.eido_json(eido), media_type="application/json")


async def _audit_sensitive_read(
    state: AppState, actor: Actor, call_id: uuid.UUID, shown: list[str]
) -> None:
    """Record, before it is sent, that this answer shows the call's sensitive fields."""
    if not shown:
        return
    actor.status = 200
    await state.uow.write(
        audit.record,
        actor=actor,
        outcome="success",
        target=f"call:{call_id}",
        detail={"read": "sensitive", "calls": {str(call_id): shown}},
    )


@router.get("/v1/eido/mapping", responses=errors(403))
async def get_mapping(actor: CurrentActor, state: State) -> IncidentTypeMappingPublic:
    """How this agency's incident types become categories: its own mapping (looked up
    first) and CoRespond's built-in table (docs/eido.md)."""
    require_role(actor.who, CALL_TAKERS, "read the EIDO incident-type mapping")
    found = await state.uow.read(mapping.read_mapping, principal=actor.who)
    return IncidentTypeMappingPublic(**found.model_dump(), builtin=mapping.DEFAULT_TYPES)


@router.put("/v1/eido/mapping", responses=errors(403, 422))
async def put_mapping(
    body: IncidentTypeMapping, actor: CurrentActor, state: State
) -> IncidentTypeMappingPublic:
    """Replace this agency's incident-type mapping (admins only). It applies to the
    next EIDO; calls already made keep their category."""
    found = await state.uow.write_as(actor, mapping.set_mapping, principal=actor.who, body=body)
    return IncidentTypeMappingPublic(**found.model_dump(), builtin=mapping.DEFAULT_TYPES)
