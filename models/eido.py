"""NENA's Emergency Incident Data Object (EIDO, NENA-STA-021, JSON 1.0), as far as
CoRespond reads and writes it.

The standard's names are kept (Python names are their snake_case, `$id` and `$ref`
aliased). Members CoRespond does not model are allowed and kept (`extra="allow"`): an
EIDO carries much that is not a call's, and what cannot be mapped is kept verbatim.
Components CoRespond reads or writes are typed with the members the schema requires;
every other component is checked for its prologue only (`Component`).
"""

import uuid
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import sqlmodel
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, StringConstraints
from pydantic.alias_generators import to_camel
from sqlalchemy import String
from sqlmodel import JSON, Column, SQLModel

from models.columns import UTCDateTime, utcnow
from models.vocabulary import Category

EIDO_VERSION = "1.0"
JSON_LD_VOCAB: Final = "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"

Text = Annotated[str, StringConstraints(min_length=1)]
Severity = Literal["highest", "high", "normal", "low", "lowest"]


def _date_time(value: str) -> str:
    """An RFC 3339 date-time, kept as sent: its value never decides acceptance."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("must be a date-time such as 2021-04-30T14:40:00-04:00") from None
    return value


Timestamp = Annotated[str, AfterValidator(_date_time)]


def rfc3339(moment: datetime) -> str:
    """A moment as an EIDO writes it (milliseconds, `Z`)."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EidoModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
    )


class Reference(EidoModel):
    ref: Text = Field(alias="$ref", description="The `$id` of the component referred to.")


class Prologue(EidoModel):
    """The members every data component starts with."""

    id: Text = Field(alias="$id")
    last_update_time_stamp: Timestamp
    updated_by_agency_reference: Reference
    updated_by_agent_reference: Reference | None = None


class Component(Prologue):
    """A component CoRespond keeps without reading (its prologue is checked)."""


class Agency(Prologue):
    agency_role_description_registry_text: list[str]
    agency_type: list[str]


class Agent(Prologue):
    agent_role_registry_text: list[str] = Field(min_length=1)
    agency_reference: Reference


class Notes(Prologue):
    notes_action_comments: str = Field(description="HTML5 text.")


class Caution(Prologue):
    caution_type_internal_text: str
    caution_type_common_registry_text: str
    caution_severity: Severity


class LocationInformation(Prologue):
    location_type_description_registry_text: str
    location_by_value: str | None = Field(default=None, description="A PIDF-LO document.")
    location_by_reference_url: str | None = None
    location_description_text: str | None = None


class Person(Prologue):
    person_incident_role_registry_text: list[str]


class CallInformation(Prologue):
    call_state_registry_text: str
    standard_primary_call_type: str
    direction: Literal["incoming", "outgoing", "internal"]
    call_start_timestamp: Timestamp
    priority_identifier: Severity | None = None


class Disposition(Prologue):
    disposition_common_registry_code: str
    disposition_primary_indicator: bool | None = None
    disposition_category_text: str | None = None
    disposition_description_text: str | None = None


class Incident(Prologue):
    incident_type_common_registry_text: str
    incident_type_internal_code: str | None = None
    incident_type_internal_text: str | None = None
    incident_status_internal_text: list[str] | None = None
    internal_incident_id: str | None = None
    incident_priority_internal_text: str | None = None
    incident_common_priority_number: int | None = Field(default=None, strict=True)
    location_reference: list[Reference] | None = None
    notes_reference: list[Reference] | None = None
    person_reference: list[Reference] | None = None
    disposition_component: list[Disposition] | None = None


class EmergencyResource(Prologue):
    agent_reference: list[Reference]
    emergency_resource_type_common_registry_text: str
    emergency_resource_type_internal_text: str | None = None
    resource_attribute_registry_text: list[str]
    emergency_resource_name: str | None = None
    primary_unit_status_registry_text: str
    secondary_unit_status_registry_text: list[str]
    unit_status_internal: list[str] | None = None
    eta: str | None = None


class Dispatch(Prologue):
    agency_reference: Reference | None = None
    emergency_resource_reference: list[Reference] | None = None


class JsonLdContext(EidoModel):
    vocab: Literal["./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"] = Field(
        default=JSON_LD_VOCAB, alias="@vocab"
    )


class Eido(Prologue):
    """One EIDO: an incident, its calls, locations, notes, resources and agencies."""

    eido_version: Literal["1.0"]
    issuing_element_identification: Text
    agency_component: list[Agency]
    incident_component: Incident | None = None
    call_component: list[CallInformation] | None = None
    location_component: list[LocationInformation] | None = None
    notes_component: list[Notes] | None = None
    caution_component: list[Caution] | None = None
    person_component: list[Person] | None = None
    emergency_resource_component: list[EmergencyResource] | None = None
    dispatch_component: list[Dispatch] | None = None
    agent_component: list[Agent] | None = None
    merge_component: list[Component] | None = None
    link_component: list[Component] | None = None
    callback_component: list[Component] | None = None
    alarms_sensors_component: list[Component] | None = None
    additional_data_component: list[Component] | None = None
    vehicle_component: list[Component] | None = None
    media_component: list[Component] | None = None
    shared_communication_resource_component: list[Component] | None = None
    external_information_source_component: list[Component] | None = None
    context: JsonLdContext | None = Field(default=None, alias="@context")


class EidoTaken(BaseModel):
    """What `POST /v1/eido` did with an EIDO."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4f7c2d8e-0b1a-4c3e-9d2f-6a5b4c3d2e1f",
                    "created": True,
                    "unmapped": ["$.callComponent", "$.agencyComponent"],
                    "not_kept": ["$.personComponent"],
                }
            ]
        }
    )

    id: uuid.UUID = Field(description="The call's id.")
    created: bool = Field(description="True for a new call, false for an update.")
    unmapped: list[str] = Field(
        description="JSON paths of what the call has no field for: kept with the call "
        "verbatim (`GET /v1/calls/{id}/eido` does not send it back)."
    )
    not_kept: list[str] = Field(
        default_factory=list,
        description="JSON paths of personal details not stored (person, callback and "
        "vehicle components, a caller's SIP identity and subscriber data): a person is "
        "known to CoRespond only by keyed hashes, never by what a CAD sent.",
    )


CategoryMap = dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Category]


class IncidentTypeMapping(BaseModel):
    """An agency's incident types → categories. Agency entries are looked up before
    CoRespond's defaults (`docs/eido.md`), internal codes before registry texts;
    names match whatever their case, spaces and punctuation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "internal_codes": {"10-96": "mental_health_crisis", "OD": "overdose"},
                    "registry_texts": {"Psychiatric": "mental_health_crisis"},
                    "default": "welfare_check",
                }
            ]
        },
    )

    internal_codes: CategoryMap = Field(
        default_factory=dict, description="`incidentTypeInternalCode` → category."
    )
    registry_texts: CategoryMap = Field(
        default_factory=dict, description="`incidentTypeCommonRegistryText` → category."
    )
    default: Category | None = Field(
        default=Category.mental_health_crisis,
        description="The category of an incident type nothing maps; `null` refuses such "
        "EIDOs (422) instead.",
    )


class IncidentTypeMappingPublic(IncidentTypeMapping):
    """The agency's mapping, and CoRespond's own table that is looked up after it."""

    builtin: dict[str, Category] = Field(
        description="CoRespond's default incident types (matched like the agency's)."
    )


class EidoDocument(RootModel[dict[str, Any]]):
    """An EIDO as sent (what makes an `Idempotency-Key`'s retry the same request)."""


class IncidentTypeMappingRow(SQLModel, table=True):
    """An agency's `IncidentTypeMapping`, as `PUT /v1/eido/mapping` last set it."""

    __tablename__ = "eido_mapping"

    agency_id: uuid.UUID = sqlmodel.Field(foreign_key="agency.id", primary_key=True)
    internal_codes: dict[str, str] = sqlmodel.Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    registry_texts: dict[str, str] = sqlmodel.Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    default_category: str | None = sqlmodel.Field(default=None, sa_type=String(32))
    updated_at: datetime = sqlmodel.Field(default_factory=utcnow, sa_type=UTCDateTime)
