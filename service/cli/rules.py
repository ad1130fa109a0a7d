"""`corespond rules`: set an agency's programme from a YAML file, show the one in force
as YAML that `set` takes back unchanged, and try a document on a CSV of past calls
beside the one in force (docs/programme-rules.md)."""

import csv
import json
import math
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, get_args

import click
import yaml

from dispatch.programme import CallFacts, PreparedProgramme, decide
from models.columns import iso_utc
from models.programme import AgeGroup
from models.rules import RulesPublic
from models.vocabulary import Category
from service.agencies.operations import get_agency
from service.cli.environment import load_settings, run, unit_of_work
from service.errors import Invalid
from service.rules import programmes
from service.store.transaction import Tx
from service.trust.audit import record_command

_AGENCY = click.option("--agency", "slug", required=True, help="The agency's slug.")
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_SET_BY = "command line"
_Word = TypeVar("_Word", bound=str)


@click.group()
def rules() -> None:
    """An agency's programme rules, on the server's host."""


@rules.command("set")
@_AGENCY
@click.argument("document_file", metavar="RULES.yaml", type=_FILE)
def rules_set(slug: str, document_file: Path) -> None:
    """Make the programme in RULES.yaml the agency's next version, in force for its next
    call; an invalid one is refused with every error, and nothing changes."""
    document = _document(document_file)
    _prepared(document, document_file)
    uow = unit_of_work(load_settings())
    old, new = run(lambda: uow.write_sync(_set, slug=slug, document=document))
    count = len(document["rules"])
    teams = ", ".join(document.get("teams") or {}) or "none"
    click.echo(
        f"agency {slug}: programme version {new.version} in force (was {old}): "
        f"{count} rule{'s' if count != 1 else ''}, teams {teams}"
    )


def _set(tx: Tx, *, slug: str, document: dict[str, Any]) -> tuple[int, RulesPublic]:
    agency_id = get_agency(tx, slug=slug).id
    old, new = programmes.set_rules(tx, agency_id=agency_id, document=document, set_by=_SET_BY)
    record_command(
        tx, agency_id=agency_id, action="rules set", old_version=old, new_version=new.version
    )
    return old, new


@rules.command("show")
@_AGENCY
def rules_show(slug: str) -> None:
    """The programme in force as YAML, which `rules set` takes back unchanged."""
    uow = unit_of_work(load_settings())
    shown = run(lambda: uow.read_sync(_current, slug=slug))
    click.echo(
        f"# agency {slug}, version {shown.version}, set by {shown.set_by}, "
        f"at {iso_utc(shown.set_at)}"
    )
    click.echo(f"# to change it: corespond rules set --agency {slug} THIS_FILE.yaml")
    click.echo(
        yaml.safe_dump(
            shown.document, sort_keys=False, default_flow_style=None, allow_unicode=True
        ),
        nl=False,
    )


def _current(tx: Tx, *, slug: str) -> RulesPublic:
    return programmes.current_rules(tx, get_agency(tx, slug=slug).id)


_REQUIRED = ("received_at", "lat", "lon", "category")
_FLAGS = ("weapon", "violence", "medical")
_COLUMNS = (*_REQUIRED, "priority", *_FLAGS, "age_group")
_AGE_GROUPS: tuple[str, ...] = get_args(AgeGroup)
_CATEGORIES = textwrap.fill(", ".join(Category), width=62, subsequent_indent=" " * 15)
_TEST_HELP = f"""Count what the programme in RULES.yaml would do to the calls in CALLS.csv,
beside the programme in force: by rule, by team, by first fallback, by EMS, and the
rules a call was eligible for but outside the hours or area of (what the unserved
ledger records at intake). Nothing is stored, dispatched or written.

CALLS.csv has a header row naming its columns, in any order:

\b
  received_at  ISO 8601 with its offset, e.g. 2026-11-23T10:00-05:00 (required)
  lat, lon     where the call is, in degrees (required)
  category     {_CATEGORIES} (required)
  priority     1 (most urgent) to 4; default 2
  weapon, violence, medical
               true/false, yes/no or 1/0; default false
  age_group    {", ".join(_AGE_GROUPS)}; optional

A row that cannot be read is named by its line and column, and nothing is counted."""


@rules.command("test", help=_TEST_HELP)
@_AGENCY
@click.argument("document_file", metavar="RULES.yaml", type=_FILE)
@click.argument("calls_file", metavar="CALLS.csv", type=_FILE)
@click.option("--json", "as_json", is_flag=True, help="The counts as JSON.")
def rules_test(slug: str, document_file: Path, calls_file: Path, as_json: bool) -> None:
    proposed = _prepared(_document(document_file), document_file)
    calls = _calls(calls_file)
    uow = unit_of_work(load_settings())
    force = run(lambda: uow.read_sync(_in_force, slug=slug))
    tried, now = _counts(proposed, calls), _counts(force.programme, calls)
    if as_json:
        both = {"proposed": tried, "in_force": {"version": force.version, **now}}
        click.echo(json.dumps({"calls": len(calls), **both}, indent=2))
        return
    heading = f"{len(calls)} calls from {calls_file.name}"
    click.echo(f"{heading}: {document_file.name} beside version {force.version} in force\n")
    click.echo(_table(tried, now, f"version {force.version}"))


def _in_force(tx: Tx, *, slug: str) -> programmes.InForce:
    return programmes.in_force(tx, get_agency(tx, slug=slug).id)


def _document(path: Path) -> dict[str, Any]:
    """The YAML file as a mapping, or the command's error saying why it is not one."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: not YAML: {exc}") from None
    if not isinstance(document, dict):
        found = "nothing" if document is None else f"a {type(document).__name__}"
        raise click.ClickException(
            f"{path}: a programme is a YAML mapping (timezone:, teams:, rules: …); "
            f"this file holds {found}"
        )
    return document


def _prepared(document: dict[str, Any], path: Path) -> PreparedProgramme:
    """The document validated, or the command's error with every problem on its line."""
    try:
        return programmes.prepared_from(document)
    except Invalid as refused:
        found = refused.errors or [{"path": "", "value": None, "message": refused.detail}]
        lines = [f"  {e['path'] or '(document)'}: {e['message']}{_got(e)}" for e in found]
        first = f"the programme in {path} was refused ({len(found)} error"
        first += f"{'s' if len(found) != 1 else ''}); nothing changed:"
        raise click.ClickException("\n".join([first, *lines])) from None


def _got(error: dict[str, Any]) -> str:
    # A field left out has no value to show; pydantic's message already says "required".
    if error.get("value") is None:
        return ""
    text = json.dumps(error["value"], default=str, ensure_ascii=False)
    return f" (got {text if len(text) <= 60 else text[:59] + '…'})"


class _BadRow(ValueError):
    """A row of the calls file that cannot be read: what is wrong, a cell at a time."""

    def __init__(self, cells: list[str]) -> None:
        super().__init__("; ".join(cells))
        self.cells = cells


def _calls(path: Path) -> list[CallFacts]:
    """Every call of the CSV file, or the command's error naming each bad cell."""
    bad_rows, problems, calls = 0, [], []
    # utf-8-sig: a spreadsheet's export often starts with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        wrong = _header_problem(list(reader.fieldnames or []))
        if wrong:
            raise click.ClickException(
                f"{path}, line 1 (the header): {wrong}; the columns are {', '.join(_COLUMNS)}"
            )
        for row in reader:
            try:
                if None in row:
                    raise _BadRow(["more cells than the header names"])
                calls.append(_call({k: (v or "").strip() for k, v in row.items()}))
            except _BadRow as bad:
                bad_rows += 1
                problems += [f"line {reader.line_num}, {cell}" for cell in bad.cells]
    if problems:
        shown = problems[:20] + ([f"… and {len(problems) - 20} more"] if problems[20:] else [])
        raise click.ClickException(
            f"{path}: {bad_rows} bad row(s); nothing was counted:\n  " + "\n  ".join(shown)
        )
    if not calls:
        raise click.ClickException(f"{path}: no calls under the header")
    return calls


def _header_problem(header: list[str]) -> str:
    if not header:
        return "no header row"
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [c for c in header if c not in _COLUMNS]
    said = [f"missing column(s) {', '.join(missing)}"] if missing else []
    said += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
    return "; ".join(said)


def _call(row: dict[str, str]) -> CallFacts:
    """The row as a call's facts, or `_BadRow` naming every cell that cannot be read."""
    wrong: list[str] = []

    def cell(column: str, read: Callable[[str], Any], default: Any = None) -> Any:
        text = row.get(column, "")
        if not text:
            if column in _REQUIRED:
                wrong.append(f"column {column}: required")
            return default
        try:
            return read(text)
        except ValueError as exc:
            wrong.append(f"column {column}: {text!r} {exc}")
            return default

    facts = {
        "at": cell("received_at", _moment),
        "lat": cell("lat", _degrees(90)),
        "lon": cell("lon", _degrees(180)),
        "category": cell("category", _one_of(Category)),
        "priority": cell("priority", _priority, 2),
        "weapon": cell("weapon", _flag, False),
        "violence": cell("violence", _flag, False),
        "medical": cell("medical", _flag, False),
        "age_group": cell("age_group", _one_of(_AGE_GROUPS)),
    }
    if wrong:
        raise _BadRow(wrong)
    return CallFacts(**facts)


def _moment(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not ISO 8601, e.g. 2026-11-23T10:00:00-05:00") from None
    if at.utcoffset() is None:
        raise ValueError("has no offset (add e.g. -05:00, or Z for UTC)")
    return at


def _degrees(limit: int) -> Callable[[str], float]:
    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("is not a number of degrees") from None
        if not (math.isfinite(value) and -limit <= value <= limit):
            raise ValueError(f"is not within ±{limit}")
        return value

    return read


def _one_of(values: Iterable[_Word]) -> Callable[[str], _Word]:
    known = {str(v): v for v in values}

    def read(text: str) -> _Word:
        if text not in known:
            raise ValueError(f"is not one of {', '.join(known)}")
        return known[text]

    return read


def _priority(text: str) -> int:
    if text not in ("1", "2", "3", "4"):
        raise ValueError("is not a priority from 1 to 4")
    return int(text)


_TRUTH = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _flag(text: str) -> bool:
    if text.lower() not in _TRUTH:
        raise ValueError("is not true/false, yes/no or 1/0")
    return _TRUTH[text.lower()]


def _counts(programme: PreparedProgramme, calls: list[CallFacts]) -> dict[str, Any]:
    """What the programme decides for each call, counted; every rule is named, even one
    no call reached."""
    by_rule = dict.fromkeys(programme.team_of, 0)
    teams, fallbacks, ems = Counter[str](), Counter[str](), Counter({"yes": 0, "no": 0})
    outside: dict[str, Counter[str]] = {}
    for call in calls:
        decision, eligible = decide(programme, call)
        by_rule[decision.rule] += 1
        teams[decision.team] += 1
        fallbacks[decision.fallback[0].team if decision.fallback else "none"] += 1
        ems["yes" if decision.ems else "no"] += 1
        for rule in eligible:
            if rule.outside is not None:
                outside.setdefault(rule.rule, Counter())[rule.outside.value] += 1
    return {
        "by_rule": by_rule,
        "by_team": dict(teams.most_common()),
        "by_fallback": dict(fallbacks.most_common()),
        "by_ems": dict(ems),
        "outside": {rule: dict(reasons) for rule, reasons in outside.items()},
    }


_SECTIONS = (
    ("by_rule", "by rule"),
    ("by_team", "by team"),
    ("by_fallback", "by first fallback"),
    ("by_ems", "by EMS"),
    ("outside", "eligible but outside (the unserved ledger at intake)"),
)


def _table(proposed: dict[str, Any], in_force: dict[str, Any], in_force_heading: str) -> str:
    """Both programmes' counts side by side; a rule one of them lacks shows as `-`."""
    rows: list[tuple[str, str, str]] = [("", "proposed", in_force_heading)]
    for key, title in _SECTIONS:
        rows.append((title, "", ""))
        a, b = _lines(key, proposed[key]), _lines(key, in_force[key])
        sides = ((a, proposed), (b, in_force))
        for label in [*a, *(k for k in b if k not in a)]:
            rule = (a.get(label) or b[label])[0]
            cells = [_cell(side, label, rule, whole["by_rule"]) for side, whole in sides]
            rows.append((f"  {label}", cells[0], cells[1]))
    width = max(len(r[0]) for r in rows) + 2
    right = [max(len(r[i]) for r in rows) for i in (1, 2)]
    return "\n".join(f"{r[0]:{width}}{r[1]:>{right[0]}}  {r[2]:>{right[1]}}".rstrip() for r in rows)


def _lines(key: str, counts: dict[str, Any]) -> dict[str, tuple[str | None, int]]:
    """A section's rows: label, and the rule it concerns (if it does) and its count."""
    if key == "outside":
        return {
            f"{rule}: {why.replace('_', ' ')}": (rule, n)
            for rule, reasons in counts.items()
            for why, n in reasons.items()
        }
    return {label: (label if key == "by_rule" else None, n) for label, n in counts.items()}


def _cell(
    side: dict[str, tuple[str | None, int]], label: str, rule: str | None, rules: dict[str, int]
) -> str:
    if label in side:
        return str(side[label][1])
    return "-" if rule is not None and rule not in rules else "0"
