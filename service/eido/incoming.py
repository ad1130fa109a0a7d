"""What an EIDO says of a call: its incident's identifier, type, priority, place, notes
and cautions, and what is left, kept verbatim by JSON path.

Three kinds of member are not mapped to a call's fields:
- the EIDO's envelope and each mapped component's prologue (its `$id` aside): its own
  timestamps and who updated it, kept as sent and never judged (a sample from 2021 is
  still an EIDO);
- what CoRespond has no field for: kept verbatim and listed in the answer (`unmapped`);
- personal details (person, callback and vehicle components, a caller's SIP identity,
  subscriber data): never kept (`not_kept`). A person is known to CoRespond only by
  keyed hashes (`models.contact`): the person the incident is about (a person component
  whose role is one of `SUBJECT_ROLES`, never only the caller) is read for its name and
  date of birth, which a new call hashes for repeat contacts as `POST /v1/calls` does.
"""

import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from pydantic import ValidationError

from models.contact import Person
from models.eido import Eido, IncidentTypeMapping, LocationInformation
from models.vocabulary import Category
from service.eido.mapping import category_of, plain
from service.eido.pidf import PidfError, read_pidf
from service.errors import Invalid

MAX_EXTERNAL_ID = 128
MAX_NARRATIVE = 10_000
DEFAULT_PRIORITY = 3  # "normal", when the EIDO says nothing usable of its priority
PRIORITY_OF = {"highest": 1, "high": 2, "normal": 3, "low": 4, "lowest": 4}
PROLOGUE = ("lastUpdateTimeStamp", "updatedByAgencyReference", "updatedByAgentReference")
ENVELOPE = ("$id", "eidoVersion", "issuingElementIdentification", "@context", *PROLOGUE)
PERSONAL = ("personComponent", "callbackComponent", "vehicleComponent")
SUBJECT_ROLES = {"subject", "patient", "personincrisis", "involved", "involvedparty"}
CAUTIONS = {
    "weapon": {"weapon", "weapons", "firearm", "firearms", "gun", "knife", "armed"},
    "violence": {"violence", "violent", "combative", "assault", "assaultive", "fighting"},
    "medical": {"medical", "medicalcondition", "medicalemergency", "injury", "injured"},
}


@dataclass(slots=True)
class Incoming:
    """What the EIDO says, as a call's fields, and what it carried besides."""

    external_id: str
    category: Category
    priority: int
    lat: float
    lon: float
    address: str | None
    narrative: str | None
    place: str  # the path of the location read, `$.locationComponent[0]`
    place_sent: Any  # that location component as sent
    person: Person | None = None
    raised: set[str] = field(default_factory=set)
    kept: dict[str, Any] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    not_kept: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Reading:
    """Paths read into the call's fields (`used`), kept quietly (`quiet`), refused
    (`personal`)."""

    used: set[str] = field(default_factory=set)
    quiet: set[str] = field(default_factory=set)
    personal: set[str] = field(default_factory=set)

    def component(self, path: str, *members: str) -> None:
        self.used.update(f"{path}.{m}" for m in ("$id", *members))
        self.quiet.update(f"{path}.{m}" for m in PROLOGUE)


def read_incident(eido: Eido, document: dict[str, Any], mapping: IncidentTypeMapping) -> Incoming:
    """The call `eido` describes (`document` is it as parsed); 422 if it has no usable
    location or an incident type nothing maps."""
    reading = _Reading()
    reading.quiet.update(f"$.{m}" for m in ENVELOPE)
    external_id = _external_id(eido, reading)
    lat, lon, address, place = _place(eido, reading)
    category = _category(eido, mapping, reading)
    priority = _priority(eido, reading)
    narrative = _narrative(eido, reading)
    raised = _cautions(eido, reading)
    _personal(document, reading)
    handled = reading.used | reading.quiet | reading.personal
    left = dict(_leftovers(document, "$", handled))
    kept = {p: v for p in reading.quiet if (v := _at(document, p)) is not _ABSENT}
    return Incoming(
        external_id=external_id,
        category=category,
        priority=priority,
        lat=lat,
        lon=lon,
        address=address,
        narrative=narrative,
        place=place,
        place_sent=_at(document, place),
        person=_person(document),
        raised=raised,
        kept={**dict(sorted(kept.items())), **left},
        unmapped=list(left),
        not_kept=sorted(p for p in reading.personal if _at(document, p) is not _ABSENT),
    )


def _external_id(eido: Eido, reading: _Reading) -> str:
    incident = eido.incident_component
    path, said = ("$.incidentComponent.$id", incident.id) if incident else ("$.$id", eido.id)
    if len(said) > MAX_EXTERNAL_ID:
        raise Invalid(
            f"{path}: the incident's identifier is {len(said)} characters; CoRespond keeps "
            f"at most {MAX_EXTERNAL_ID} as a call's external_id",
            errors=[{"path": path, "message": f"$id: at most {MAX_EXTERNAL_ID} characters"}],
        )
    reading.used.add(path)
    return said


def _place(eido: Eido, reading: _Reading) -> tuple[float, float, str | None, str]:
    """The first location with coordinates: those the incident refers to first."""
    found: list[str] = []
    broken: list[dict[str, str]] = []
    for index, location in _locations_in_order(eido):
        path = f"$.locationComponent[{index}]"
        if location.location_by_value is None:
            if location.location_by_reference_url:
                found.append(f"{path} only by reference ({location.location_by_reference_url})")
            continue
        try:
            read = read_pidf(location.location_by_value)
        except PidfError as exc:
            broken.append({"path": f"{path}.locationByValue", "message": f"locationByValue: {exc}"})
            continue
        if read.lat is None or read.lon is None:
            if read.address:
                found.append(f"civic address {read.address!r} at {path}")
            continue
        address = read.address or location.location_description_text
        reading.component(path, "locationTypeDescriptionRegistryText", "locationByValue")
        if not read.address and location.location_description_text:
            reading.used.add(f"{path}.locationDescriptionText")
        return read.lat, read.lon, address[:500] if address else None, path
    raise _no_place(found, broken)


def _no_place(found: list[str], broken: list[dict[str, str]]) -> Invalid:
    ask = "send a PIDF-LO point, circle or polygon in a locationComponent's locationByValue"
    if broken and not found:
        return Invalid(
            f"no usable location: {'; '.join(b['message'] for b in broken)}", errors=broken
        )
    said = f"no coordinates, only {'; '.join(found)}" if found else "no location with a place"
    detail = (
        f"no usable location: the EIDO has {said}; CoRespond has no geocoder configured to "
        f"place an address: {ask}"
    )
    return Invalid(
        detail,
        errors=[{"path": "$.locationComponent", "message": f"locationComponent: {said}"}, *broken],
    )


def _locations_in_order(eido: Eido) -> Iterator[tuple[int, LocationInformation]]:
    locations = list(enumerate(eido.location_component or []))
    wanted = [
        r.ref
        for r in (eido.incident_component and eido.incident_component.location_reference) or []
    ]
    rank = {ref: i for i, ref in enumerate(wanted)}
    return iter(sorted(locations, key=lambda pair: (rank.get(pair[1].id, len(rank)), pair[0])))


def _category(eido: Eido, mapping: IncidentTypeMapping, reading: _Reading) -> Category:
    incident = eido.incident_component
    text = incident.incident_type_common_registry_text if incident else None
    code = incident.incident_type_internal_code if incident else None
    category = category_of(mapping, registry_text=text, internal_code=code)
    if category is None:
        path = "$.incidentComponent.incidentTypeCommonRegistryText"
        said = (
            f"{text!r} (internal code {code!r})" if incident else "not given (no incidentComponent)"
        )
        detail = (
            f"incident type {said} maps to no category and this agency has no default: "
            "add it with PUT /v1/eido/mapping"
        )
        raise Invalid(detail, errors=[{"path": path, "message": detail}])
    if incident:
        reading.component(
            "$.incidentComponent",
            "incidentTypeCommonRegistryText",
            "incidentTypeInternalCode",
            "locationReference",
            "notesReference",
        )
    return category


def _priority(eido: Eido, reading: _Reading) -> int:
    """The incident's common priority if it is 1 to 4, else the first call's priority
    identifier, else a digit 1 to 4 leading the internal priority text, else 3 (normal)."""
    incident = eido.incident_component
    if incident and incident.incident_common_priority_number in (1, 2, 3, 4):
        reading.used.add("$.incidentComponent.incidentCommonPriorityNumber")
        return incident.incident_common_priority_number
    for index, call in enumerate(eido.call_component or []):
        if call.priority_identifier:
            reading.used.add(f"$.callComponent[{index}].priorityIdentifier")
            return PRIORITY_OF[call.priority_identifier]
    internal = (incident.incident_priority_internal_text or "").strip() if incident else ""
    if internal[:1] in ("1", "2", "3", "4") and not internal[1:2].isdigit():
        reading.used.add("$.incidentComponent.incidentPriorityInternalText")
        return int(internal[0])
    return DEFAULT_PRIORITY


def _narrative(eido: Eido, reading: _Reading) -> str | None:
    """Every note as plain text, the incident's own first, oldest first as sent."""
    notes = list(enumerate(eido.notes_component or []))
    if not notes:
        return None
    wanted = [
        r.ref for r in (eido.incident_component and eido.incident_component.notes_reference) or []
    ]
    rank = {ref: i for i, ref in enumerate(wanted)}
    notes.sort(key=lambda pair: (rank.get(pair[1].id, len(rank)), pair[0]))
    texts = [_text(note.notes_action_comments) for _, note in notes]
    narrative = "\n\n".join(t for t in texts if t)
    if len(narrative) > MAX_NARRATIVE:
        detail = f"the notes come to {len(narrative)} characters; a narrative holds {MAX_NARRATIVE}"
        raise Invalid(detail, errors=[{"path": "$.notesComponent", "message": detail}])
    for index, _ in notes:
        reading.component(f"$.notesComponent[{index}]", "notesActionComments")
    return narrative or None


def _cautions(eido: Eido, reading: _Reading) -> set[str]:
    raised: set[str] = set()
    for index, caution in enumerate(eido.caution_component or []):
        said = {
            plain(caution.caution_type_common_registry_text),
            plain(caution.caution_type_internal_text),
        }
        flags = {flag for flag, names in CAUTIONS.items() if said & names}
        if flags:
            raised |= flags
            reading.component(
                f"$.cautionComponent[{index}]",
                "cautionTypeInternalText",
                "cautionTypeCommonRegistryText",
                "cautionSeverity",
            )
    return raised


def _personal(document: dict[str, Any], reading: _Reading) -> None:
    reading.personal.update(f"$.{name}" for name in PERSONAL)
    for index, call in enumerate(_list(document.get("callComponent"))):
        if isinstance(call, dict) and "sipIdentity" in call:
            reading.personal.add(f"$.callComponent[{index}].sipIdentity")
    for index, data in enumerate(_list(document.get("additionalDataComponent"))):
        if isinstance(data, dict) and "SubscriberInfo" in str(data.get("additionalDataByValue")):
            reading.personal.add(f"$.additionalDataComponent[{index}]")


def _person(document: dict[str, Any]) -> Person | None:
    """Who the incident is about, as far as a repeat-contact hash needs: the first person
    in a subject's role with a name and a date of birth in its NIEM person (`PersonName`'s
    `PersonFullName` or given and surname, `PersonBirthDate`'s `Date`), or none."""
    for person in _list(document.get("personComponent")):
        if not isinstance(person, dict):
            continue
        roles = {plain(str(r)) for r in _list(person.get("personIncidentRoleRegistryText"))}
        niem = person.get("ncPersonComponent")
        if not roles & SUBJECT_ROLES or not isinstance(niem, dict):
            continue
        name = _niem(niem, "PersonName")
        full = _niem(name, "PersonFullName") or " ".join(
            str(part) for key in ("PersonGivenName", "PersonSurName") if (part := _niem(name, key))
        )
        born = _niem(niem, "PersonBirthDate")
        born = _niem(born, "Date") if isinstance(born, dict) else born
        try:
            return Person.model_validate({"name": full or None, "date_of_birth": born})
        except ValidationError:
            continue
    return None


def _niem(node: Any, name: str) -> Any:
    """A NIEM member by its name, with or without its `nc:` prefix, whatever its case."""
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        if str(key).rpartition(":")[2].lower() == name.lower():
            return value
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


_ABSENT = object()


def _at(document: Any, path: str) -> Any:
    """The value at a path this module made (`$.a[0].b`), or `_ABSENT`."""
    node = document
    for part in path.removeprefix("$.").replace("[", ".[").split("."):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return _ABSENT
            node = node[index]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _ABSENT
    return node


def _leftovers(node: Any, path: str, handled: set[str]) -> Iterable[tuple[str, Any]]:
    """What of `node` no handled path covers, as coarse as possible."""
    if path in handled or node in ({}, []):  # an empty member has nothing to keep
        return
    if not any(h.startswith((f"{path}.", f"{path}[")) for h in handled):
        yield path, node
    elif isinstance(node, dict):
        for name, value in node.items():
            yield from _leftovers(value, f"{path}.{name}", handled)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leftovers(value, f"{path}[{index}]", handled)


class _Text(HTMLParser):
    """A note's HTML5 as text: tags dropped, line breaks kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("br", "p", "div", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(note: str) -> str:
    if "<" not in note:
        return html.unescape(note).strip()
    parser = _Text()
    parser.feed(note)
    parser.close()
    return "".join(parser.parts).strip()
