"""EIDOs as a CAD would send them, built by keyword: an incident, its PIDF-LO location
(a point, a circle or a polygon), notes, cautions and a caller."""

import uuid
from typing import Any

SENT_AT = "2021-04-30T14:40:00.0-04:00"  # an EIDO's own time is kept, never judged
PSAP = "psap.example.gov"
_PIDF_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
    'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
    'xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" '
    'entity="pres:caller@example.gov"><dm:device id="d1"><gp:geopriv><gp:location-info>'
)
_PIDF_CLOSE = "</gp:location-info><gp:usage-rules/></gp:geopriv></dm:device></presence>"
_WGS84 = 'srsName="urn:ogc:def:crs:EPSG::4326"'


def point(lat: float, lon: float) -> str:
    shape = f"<gml:Point {_WGS84}><gml:pos>{lat} {lon}</gml:pos></gml:Point>"
    return f"{_PIDF_OPEN}{shape}{_PIDF_CLOSE}"


def circle(lat: float, lon: float, radius_m: float) -> str:
    return (
        f"{_PIDF_OPEN}<gs:Circle {_WGS84}><gml:pos>{lat} {lon}</gml:pos>"
        f'<gs:radius uom="urn:ogc:def:uom:EPSG::9001">{radius_m}</gs:radius>'
        f"</gs:Circle>{_PIDF_CLOSE}"
    )


def polygon(corners: list[tuple[float, float]]) -> str:
    ring = [*corners, corners[0]]
    said = " ".join(f"{lat} {lon}" for lat, lon in ring)
    return (
        f"{_PIDF_OPEN}<gml:Polygon {_WGS84}><gml:exterior><gml:LinearRing>"
        f"<gml:posList>{said}</gml:posList></gml:LinearRing></gml:exterior>"
        f"</gml:Polygon>{_PIDF_CLOSE}"
    )


def prologue(component_id: str) -> dict[str, Any]:
    return {
        "$id": component_id,
        "lastUpdateTimeStamp": SENT_AT,
        "updatedByAgencyReference": {"$ref": PSAP},
    }


def eido(
    *,
    incident: str | None = None,
    incident_type: str = "MentalHealthCrisis",
    internal_code: str | None = None,
    priority: int | None = 2,
    location: str | None = None,
    notes: list[str] | None = None,
    cautions: list[str] | None = None,
    caller: bool = False,
    subject: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """An EIDO for one incident (a new incident id unless given)."""
    incident = incident or f"urn:emergency:uid:incidentid:{uuid.uuid4().hex[:12]}:{PSAP}"
    notes = notes or []
    cautions = cautions or []
    body: dict[str, Any] = {
        **prologue(incident),
        "eidoVersion": "1.0",
        "issuingElementIdentification": f"cad.{PSAP}",
        "agencyComponent": [
            {
                **prologue(PSAP),
                "agencyRoleDescriptionRegistryText": ["CallReceiving"],
                "agencyType": ["psap"],
            }
        ],
        "incidentComponent": {
            **prologue(incident),
            "incidentTypeCommonRegistryText": incident_type,
            "incidentTypeInternalText": "person in crisis",
            "locationReference": [{"$ref": "location-1"}],
            "notesReference": [{"$ref": f"note-{i}"} for i in range(len(notes))],
        },
        "locationComponent": [
            {
                **prologue("location-1"),
                "locationTypeDescriptionRegistryText": "Incident",
                "locationByValue": location if location is not None else point(40.1215, -75.3399),
            }
        ],
        "notesComponent": [
            {**prologue(f"note-{i}"), "notesActionComments": text} for i, text in enumerate(notes)
        ],
        "cautionComponent": [
            {
                **prologue(f"caution-{i}"),
                "cautionTypeInternalText": said,
                "cautionTypeCommonRegistryText": said,
                "cautionSeverity": "high",
            }
            for i, said in enumerate(cautions)
        ],
        "@context": {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"},
    }
    if internal_code is not None:
        body["incidentComponent"]["incidentTypeInternalCode"] = internal_code
    if priority is not None:
        body["incidentComponent"]["incidentCommonPriorityNumber"] = priority
    people = []
    if caller:
        people.append(
            {
                **prologue("person-1"),
                "personIncidentRoleRegistryText": ["Caller"],
                "ncPersonComponent": {"PersonName": {"PersonFullName": "Jane Q. Caller"}},
            }
        )
    if subject is not None:
        given, born = subject
        people.append(
            {
                **prologue("person-2"),
                "personIncidentRoleRegistryText": ["Subject"],
                "ncPersonComponent": {
                    "nc:PersonName": {"nc:PersonGivenName": given, "nc:PersonSurName": "Doe"},
                    "nc:PersonBirthDate": {"nc:Date": born},
                },
            }
        )
    if people:
        body["personComponent"] = people
    return body
