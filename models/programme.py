"""An agency's programme as a document: kinds, areas, teams, hours and ordered rules.

`validate_programme` checks the whole document at once and raises `ProgrammeInvalid`
with every error as `{path, value, message}`; docs/programme-rules.md is the reference.
"""

import re
from typing import Annotated, Any, Literal, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely.geometry
import shapely.validation
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from models.vocabulary import Category

BUILTIN_KINDS = frozenset({"officer", "clinician", "peer", "medic"})
POLICE = "police"  # `send: police` refers the call to police, with no CoRespond team
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_A_DAY = 24 * 60

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Risk = Literal["weapon", "violence", "medical"]
AgeGroup = Literal["youth", "adult", "older_adult"]
Position = tuple[float, float]  # GeoJSON order: longitude, latitude


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Polygon(_Strict):
    """A GeoJSON Polygon: an outer ring, then any holes; each ring closed."""

    type: Literal["Polygon"]
    coordinates: list[Annotated[list[Position], Field(min_length=4)]] = Field(min_length=1)


class Seat(_Strict):
    kind: str
    count: int = Field(default=1, ge=1, le=10)
    cit: bool = False  # a CIT certification valid on the call's day; officers only
    prefer_skills: list[str] = []
    prefer_language: bool = True


class Team(_Strict):
    seats: list[Seat] = Field(min_length=1)


class When(_Strict):
    """A rule's conditions; one left out holds for every call."""

    categories: list[Category] | None = Field(default=None, min_length=1)
    risk_any: list[Risk] | None = Field(default=None, min_length=1)
    risk_none: list[Risk] | None = Field(default=None, min_length=1)
    priorities: list[Annotated[int, Field(ge=1, le=4)]] | None = Field(default=None, min_length=1)
    age_groups: list[AgeGroup] | None = Field(default=None, min_length=1)
    area: str | None = None
    hours: dict[str, str] | None = None


class SkillPreference(_Strict):
    """Skills preferred in the seats of `kinds` (every seat if left out) on calls of
    `categories`: today's plan prefers `substance_use` for substance-use and overdose
    calls and `suicide_risk` for suicidal ideation, in the clinician's seat."""

    categories: list[Category] = Field(min_length=1)
    kinds: list[str] | None = Field(default=None, min_length=1)
    skills: list[str] = Field(min_length=1)


class Fallback(_Strict):
    after_s: int = Field(ge=0)
    send: str


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=100)
    when: When | None = None
    send: str
    ems: bool = False
    fallback: list[Fallback] = []
    prefer_skills: list[SkillPreference] = []


class Programme(_Strict):
    timezone: str
    kinds: list[Name] = []
    areas: dict[Name, Polygon] = {}
    teams: dict[Name, Team] = {}
    rules: list[Rule] = Field(min_length=1)


class ProgrammeError(TypedDict):
    path: str
    value: Any
    message: str


class ProgrammeInvalid(ValueError):
    """The document was refused; `errors` names every problem found in it."""

    def __init__(self, errors: list[ProgrammeError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the programme: {errors}")
        self.errors = errors


def validate_programme(document: dict[str, Any]) -> Programme:
    """The document as a `Programme`, or `ProgrammeInvalid` with every error in it:
    its shape and unknown fields, then what it refers to, its hours and its polygons."""
    errors: list[ProgrammeError] = []
    try:
        programme: Programme | None = Programme.model_validate(document)
    except ValidationError as invalid:
        programme = None
        errors += [_from_pydantic(e) for e in invalid.errors()]
    errors += _meaning_errors(document if isinstance(document, dict) else {})
    if errors or programme is None:
        raise ProgrammeInvalid(errors)
    return programme


def weekly_intervals(hours: dict[str, str]) -> tuple[tuple[int, int], ...]:
    """Valid hours as sorted [start, end) minutes of the week, Monday 00:00 being 0."""
    intervals, errors = _parse_hours(hours, "hours")
    if errors:
        raise ProgrammeInvalid(errors)
    return tuple(sorted(intervals))


def _from_pydantic(error: Any) -> ProgrammeError:
    message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
    value = None if error["type"] == "missing" else error.get("input")
    return {"path": _path(error["loc"]), "value": value, "message": message}


def _path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":  # pydantic's mark for a bad name in a mapping
            continue
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _meaning_errors(doc: dict[str, Any]) -> list[ProgrammeError]:
    """What pydantic cannot see: names that refer to nothing, hours, polygons, the
    zone. Read from the raw document, so a part of the wrong shape (already reported)
    is skipped and the rest is still checked."""
    errors: list[ProgrammeError] = []

    def error(path: str, value: Any, message: str) -> None:
        errors.append({"path": path, "value": value, "message": message})

    zone = doc.get("timezone")
    if isinstance(zone, str) and not _is_zone(zone):
        error("timezone", zone, "not an IANA time zone (e.g. America/New_York)")
    declared = _list(doc.get("kinds"))
    for i, kind in enumerate(declared):
        if kind in BUILTIN_KINDS:
            error(f"kinds[{i}]", kind, "is a built-in kind; declare only new ones")
    kinds = BUILTIN_KINDS | {k for k in declared if isinstance(k, str)}
    areas = _dict(doc.get("areas"))
    for name, area in areas.items():
        errors += _polygon_errors(f"areas.{name}", area)
    teams = _dict(doc.get("teams"))
    if POLICE in teams:
        error(f"teams.{POLICE}", POLICE, "is reserved: `send: police` refers the call to police")
    for name, team in teams.items():
        for i, seat in enumerate(_list(_dict(team).get("seats"))):
            seat, path = _dict(seat), f"teams.{name}.seats[{i}]"
            if isinstance(seat.get("kind"), str) and seat["kind"] not in kinds:
                error(f"{path}.kind", seat["kind"], f"unknown kind; known: {_known(kinds)}")
            if seat.get("cit") is True and seat.get("kind") != "officer":
                error(f"{path}.cit", True, "only an officer holds a CIT certification")
    sendable = set(teams) | {POLICE}
    rules = _list(doc.get("rules"))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        rule, path = _dict(rule), f"rules[{i}]"
        if isinstance(rule.get("name"), str):
            if rule["name"] in seen:
                error(f"{path}.name", rule["name"], "another rule has this name")
            seen.add(rule["name"])
        send = rule.get("send")
        if isinstance(send, str) and send not in sendable:
            error(f"{path}.send", send, f"unknown team; known: {_known(sendable)}")
        for j, step in enumerate(_list(rule.get("fallback"))):
            to = _dict(step).get("send")
            if isinstance(to, str) and to not in sendable:
                error(f"{path}.fallback[{j}].send", to, f"unknown team; known: {_known(sendable)}")
            elif to == send:
                error(f"{path}.fallback[{j}].send", to, "falls back to the team it replaces")
        if send == POLICE and rule.get("fallback"):
            error(f"{path}.fallback", rule["fallback"], "police has no seats to wait for")
        for j, preference in enumerate(_list(rule.get("prefer_skills"))):
            for k, kind in enumerate(_list(_dict(preference).get("kinds"))):
                if isinstance(kind, str) and kind not in kinds:
                    where = f"{path}.prefer_skills[{j}].kinds[{k}]"
                    error(where, kind, f"unknown kind; known: {_known(kinds)}")
        when = _dict(rule.get("when"))
        area = when.get("area")
        if isinstance(area, str) and area not in areas:
            error(f"{path}.when.area", area, f"unknown area; known: {_known(set(areas))}")
        hours = when.get("hours")
        if isinstance(hours, dict):
            errors += _parse_hours(hours, f"{path}.when.hours")[1]
    if rules and isinstance(rules[-1], dict) and any(_dict(rules[-1].get("when")).values()):
        error(f"rules[{len(rules) - 1}].when", rules[-1]["when"], _LAST_RULE)
    return errors


def today_document() -> dict[str, Any]:
    """The programme every agency had before programmes were written down (and every
    new agency starts with): weapon or violence brings a CIT officer and a clinician,
    anything else a clinician alone; a medical flag or an overdose also asks for EMS;
    the clinician preferably has the skill the category calls for."""
    prefer = [
        {
            "categories": ["substance_use", "overdose"],
            "kinds": ["clinician"],
            "skills": ["substance_use"],
        },
        {"categories": ["suicidal_ideation"], "kinds": ["clinician"], "skills": ["suicide_risk"]},
    ]
    not_overdose = [c.value for c in Category if c != Category.overdose]
    armed = ["weapon", "violence"]
    return {
        "timezone": "UTC",
        "teams": {
            "co_response": {"seats": [{"kind": "officer", "cit": True}, {"kind": "clinician"}]},
            "clinician": {"seats": [{"kind": "clinician"}]},
        },
        "rules": [
            {
                "name": "weapon or violence",
                "send": "co_response",
                "prefer_skills": prefer,
                "when": {"risk_any": armed, "risk_none": ["medical"], "categories": not_overdose},
            },
            {
                "name": "weapon or violence, and a medical need or an overdose",
                "when": {"risk_any": armed},
                "send": "co_response",
                "ems": True,
                "prefer_skills": prefer,
            },
            {
                "name": "medical need",
                "when": {"risk_any": ["medical"]},
                "send": "clinician",
                "ems": True,
                "prefer_skills": prefer,
            },
            {
                "name": "overdose",
                "when": {"categories": ["overdose"]},
                "send": "clinician",
                "ems": True,
                "prefer_skills": prefer,
            },
            {"name": "no safety flag", "send": "clinician", "prefer_skills": prefer},
        ],
    }


_LAST_RULE = "the last rule must have no `when`, so that every call matches a rule"


def _polygon_errors(path: str, area: Any) -> list[ProgrammeError]:
    try:
        polygon = TypeAdapter(Polygon).validate_python(area)
    except ValidationError:
        return []  # the whole document's validation reports its shape
    for i, ring in enumerate(polygon.coordinates):
        if ring[0] != ring[-1]:
            message = "a ring must end where it starts"
            return [{"path": f"{path}.coordinates[{i}]", "value": ring, "message": message}]
        for lon, lat in ring:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                return [{"path": path, "value": [lon, lat], "message": _OUT_OF_RANGE}]
    geometry = shapely.geometry.shape(polygon.model_dump())
    if geometry.is_valid:
        return []
    why = shapely.validation.explain_validity(geometry)
    return [{"path": path, "value": area, "message": f"not a valid polygon: {why}"}]


_OUT_OF_RANGE = "a position is [longitude, latitude], within ±180 and ±90"
_INTERVAL = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def _parse_hours(
    hours: dict[str, Any], path: str
) -> tuple[list[tuple[int, int]], list[ProgrammeError]]:
    intervals: list[tuple[int, int]] = []
    errors: list[ProgrammeError] = []
    for key, text in hours.items():
        days = _days(key)
        if days is None:
            errors.append({"path": f"{path}.{key}", "value": key, "message": _DAY_RANGE})
            continue
        if not isinstance(text, str):
            continue  # reported as a type error by the whole document's validation
        for part in text.split(","):
            minutes = _minutes(part.strip())
            if isinstance(minutes, str):
                errors.append({"path": f"{path}.{key}", "value": part.strip(), "message": minutes})
                continue
            start, end = minutes
            for day in days:
                span = (day * MINUTES_A_DAY + start, day * MINUTES_A_DAY + end)
                clash = next((o for o in intervals if o[0] < span[1] and span[0] < o[1]), None)
                if clash is not None:
                    message = f"overlaps {_when(clash)} given elsewhere in these hours"
                    errors.append(
                        {"path": f"{path}.{key}", "value": part.strip(), "message": message}
                    )
                    break
                intervals.append(span)
    return intervals, errors


_DAY_RANGE = "not a day or a day range: mon, tue, … sun, or e.g. mon-fri, sat-sun, mon-sun"


def _days(key: str) -> list[int] | None:
    first, _, last = key.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        return None
    start, end = DAYS.index(first), DAYS.index(last or first)
    return [(start + n) % 7 for n in range((end - start) % 7 + 1)]


def _minutes(text: str) -> tuple[int, int] | str:
    match = _INTERVAL.match(text)
    if not match:
        return "not an interval HH:MM-HH:MM (24-hour; 00:00-24:00 is all day)"
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        return "not a time of day (00:00 to 23:59; 24:00 only as an end)"
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        return "empty: it must end after it starts (split a night at 24:00)"
    return start, end


def _when(span: tuple[int, int]) -> str:
    day, start = divmod(span[0], MINUTES_A_DAY)
    end = span[1] - day * MINUTES_A_DAY
    return f"{DAYS[day]} {start // 60:02}:{start % 60:02}-{end // 60:02}:{end % 60:02}"


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _known(names: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(names)) or "none"
