"""An EIDO as sent, checked against NENA's schema by CoRespond's own models.

Real senders do not all spell the standard's members as its schema does: NENA's own
samples write `LastUpdateTimeStamp` and `EIDOVersion` where the schema says
`lastUpdateTimeStamp` and `eidoVersion`, an older draft named `locationInformationComponent`,
and some send `incidentComponent` as a list of one. A member whose name matches a known
one but for its case is read as that member, the older name as the newer, and a list of
one incident as the incident; nothing else is guessed.
"""

import functools
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from models.eido import Eido
from service.errors import Invalid

_RENAMED = {"locationinformationcomponent": "locationComponent"}
_MAX_ERRORS = 20
MAX_DEPTH = 64  # an EIDO nests a dozen levels; deeper is a mistake or an attack


def parse_eido(document: dict[str, Any]) -> tuple[Eido, dict[str, Any]]:
    """The EIDO, and the document with its members' names as the schema spells them;
    a 422 (`Invalid`) whose `errors` give each problem's JSON path and a message naming
    the member."""
    if _deeper_than(document, MAX_DEPTH):
        detail = f"the EIDO nests deeper than {MAX_DEPTH} levels"
        raise Invalid(detail, errors=[{"path": "$", "message": detail}])
    spelled = _spelled(document)
    incident = spelled.get("incidentComponent")
    if isinstance(incident, list) and len(incident) == 1:
        spelled["incidentComponent"] = incident[0]
    elif isinstance(incident, list):
        raise Invalid(
            f"incidentComponent: an EIDO describes one incident; this one has {len(incident)}",
            errors=[{"path": "$.incidentComponent", "message": "one incident per EIDO"}],
        )
    try:
        return Eido.model_validate(spelled), spelled
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors()][:_MAX_ERRORS]
        said = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        raise Invalid(
            f"the EIDO does not follow NENA's EIDO 1.0 schema: {said}", errors=problems
        ) from None


def _problem(error: Any) -> dict[str, str]:
    """One pydantic error as `{path, message}`, the message naming the member."""
    loc = [part for part in error["loc"] if not str(part).startswith("function-")]
    path = json_path(loc)
    named = [p for p in loc if isinstance(p, str)]
    member = named[-1] if named else "the EIDO"
    if error["type"] == "missing":
        return {"path": path, "message": f"{member} is required"}
    return {"path": path, "message": f"{member}: {error['msg']}"}


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether `document` nests deeper than `limit` (walked without recursion)."""
    pending = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children)
    return False


def json_path(parts: list[Any]) -> str:
    """`["callComponent", 0, "direction"]` as `$.callComponent[0].direction`."""
    said = "$"
    for part in parts:
        said += f"[{part}]" if isinstance(part, int) else f".{part}"
    return said


def _spelled(node: Any) -> Any:
    """`node` with each member named as the schema names it (see above)."""
    if isinstance(node, list):
        return [_spelled(item) for item in node]
    if not isinstance(node, dict):
        return node
    known = _known_names()
    spelled: dict[str, Any] = {}
    for name, value in node.items():
        canonical: str = _RENAMED.get(name.lower()) or known.get(name.lower()) or name
        if canonical in spelled or (canonical != name and canonical in node):
            canonical = name  # both spellings sent: the schema's wins, the other is kept
        spelled[canonical] = _spelled(value)
    return spelled


@functools.cache
def _known_names() -> dict[str, str]:
    """Every member name CoRespond's EIDO models know, by its lower case."""
    names: dict[str, str] = {}
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [Eido]
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            alias = field.alias or name
            names.setdefault(alias.lower(), alias)
            pending.extend(_models_in(field.annotation))
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is not None or get_args(annotation):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []
