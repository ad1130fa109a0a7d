"""`corespond rules` as a programme manager uses it: set a YAML file, show the one in
force and feed it back, and try a new programme on last week's calls before setting it."""

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.vocabulary import Role
from tests.conftest import CORESPOND, AgencyKit
from tests.dispatch.test_programme import EXAMPLE_YAML
from tests.service.factories import audit_records

Cli = Callable[..., str]
HEART = "HEART downtown by day"
DOWNTOWN, UPTOWN = "40.12,-75.34", "40.20,-75.34"
MONDAY = "2026-11-23T{}:00-05:00"  # New York's offset that day


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _refused(agency: AgencyKit, *args: str) -> str:
    done = subprocess.run(
        [CORESPOND, "rules", *args], env=agency.server.env, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stderr


def _in_force(agency: AgencyKit) -> dict[str, Any]:
    with agency.client(Role.supervisor) as supervisor:
        answer = supervisor.get("/v1/rules")
    assert answer.status_code == 200, answer.text
    rules: dict[str, Any] = answer.json()
    return rules


def test_set_puts_the_file_in_force_and_the_trail_keeps_both_versions(
    cli: Cli, agency: AgencyKit, tmp_path: Path
) -> None:
    was = _in_force(agency)["version"]
    said = cli("rules", "set", "--agency", agency.slug, _file(tmp_path, "r.yaml", EXAMPLE_YAML))
    assert said == (
        f"agency {agency.slug}: programme version {was + 1} in force (was {was}): "
        "4 rules, teams heart, co_response, cit_officer\n"
    )
    now = _in_force(agency)
    assert (now["version"], now["set_by"]) == (was + 1, "command line")
    assert now["document"] == yaml.safe_load(EXAMPLE_YAML)
    with agency.client(Role.supervisor) as supervisor:
        (record,) = audit_records(supervisor, action="rules set")
    assert record["detail"] == {"old_version": was, "new_version": was + 1}


def test_an_invalid_programme_is_refused_error_by_error_and_nothing_changes(
    agency: AgencyKit, tmp_path: Path
) -> None:
    was = _in_force(agency)
    bad = yaml.safe_load(EXAMPLE_YAML) | {"timezone": "Mars/Olympus"}
    bad["rules"][0]["send"] = "swat"
    stderr = _refused(
        agency, "set", "--agency", agency.slug, _file(tmp_path, "r.yaml", yaml.safe_dump(bad))
    )
    first, *errors = stderr.splitlines()
    assert first.endswith("was refused (2 errors); nothing changed:")
    assert sorted(errors) == [
        "  rules[0].send: unknown team; known: cit_officer, co_response, heart, police"
        ' (got "swat")',
        '  timezone: not an IANA time zone (e.g. America/New_York) (got "Mars/Olympus")',
    ]
    assert _in_force(agency) == was


@pytest.mark.parametrize(
    ("text", "said"),
    [("- a list\n", "this file holds a list"), ("rules: [\n", "not YAML")],
)
def test_a_file_that_is_not_a_yaml_mapping_is_refused(
    agency: AgencyKit, tmp_path: Path, text: str, said: str
) -> None:
    assert said in _refused(agency, "set", "--agency", agency.slug, _file(tmp_path, "r.yaml", text))


def test_what_show_prints_set_takes_back_unchanged(
    cli: Cli, agency: AgencyKit, tmp_path: Path
) -> None:
    cli("rules", "set", "--agency", agency.slug, _file(tmp_path, "r.yaml", EXAMPLE_YAML))
    shown = cli("rules", "show", "--agency", agency.slug)
    first = _in_force(agency)
    assert shown.startswith(
        f"# agency {agency.slug}, version {first['version']}, set by command line, at "
    )
    cli("rules", "set", "--agency", agency.slug, _file(tmp_path, "shown.yaml", shown))
    again = _in_force(agency)
    assert again["version"] == first["version"] + 1
    assert again["document"] == first["document"]


CALLS = "\n".join(
    [
        "received_at,lat,lon,category,priority,weapon,violence,medical,age_group",
        f"{MONDAY.format('10:00')},{DOWNTOWN},mental_health_crisis,2,,,,adult",
        f"{MONDAY.format('10:05')},{DOWNTOWN},mental_health_crisis,,,,,",
        f"{MONDAY.format('10:10')},{DOWNTOWN},welfare_check,3,no,no,no,older_adult",
        f"{MONDAY.format('10:15')},{DOWNTOWN},disturbance,1,false,false,false,",
        f"{MONDAY.format('02:00')},{DOWNTOWN},mental_health_crisis,,,,,youth",
        f"{MONDAY.format('02:30')},{DOWNTOWN},substance_use,,,,,",
        f"{MONDAY.format('10:00')},{UPTOWN},suicidal_ideation,,,,,",
        f"{MONDAY.format('11:00')},{UPTOWN},mental_health_crisis,,,,,",
        f"{MONDAY.format('10:20')},{DOWNTOWN},mental_health_crisis,1,yes,,,",
        f"{MONDAY.format('10:25')},{DOWNTOWN},overdose,1,0,0,1,",
    ]
)


def test_a_new_programme_is_tried_on_calls_beside_the_one_in_force(
    cli: Cli, agency: AgencyKit, tmp_path: Path
) -> None:
    was = _in_force(agency)
    rules, calls = _file(tmp_path, "r.yaml", EXAMPLE_YAML), _file(tmp_path, "c.csv", CALLS)
    counts = json.loads(cli("rules", "test", "--agency", agency.slug, rules, calls, "--json"))
    assert counts["calls"] == 10
    assert counts["proposed"] == {
        "by_rule": {"armed or violent": 1, HEART: 4, "overdose": 1, "everything else": 4},
        "by_team": {"heart": 4, "cit_officer": 4, "co_response": 2},
        "by_fallback": {"none": 6, "co_response": 4},
        "by_ems": {"yes": 1, "no": 9},
        "outside": {HEART: {"outside_hours": 2, "outside_area": 2}},
    }
    assert counts["in_force"] == {  # today's plan, every new agency's
        "version": was["version"],
        "by_rule": {
            "weapon or violence": 1,
            "weapon or violence, and a medical need or an overdose": 0,
            "medical need": 1,
            "overdose": 0,
            "no safety flag": 8,
        },
        "by_team": {"clinician": 9, "co_response": 1},
        "by_fallback": {"none": 10},
        "by_ems": {"no": 9, "yes": 1},
        "outside": {},
    }
    table = cli("rules", "test", "--agency", agency.slug, rules, calls).splitlines()
    assert table[0] == f"10 calls from c.csv: r.yaml beside version {was['version']} in force"
    rows = {line.rsplit(None, 2)[0].strip(): line.split()[-2:] for line in table[3:]}
    assert rows[f"{HEART}: outside hours"] == ["2", "-"]
    assert rows["no safety flag"] == ["-", "8"]
    assert _in_force(agency) == was  # tried, not set


def test_a_bad_row_is_named_by_line_and_column_and_nothing_is_counted(
    agency: AgencyKit, tmp_path: Path
) -> None:
    lines = CALLS.splitlines()
    lines[2] = lines[2].replace(",mental_health_crisis,,", ",mental_health_crisis,7,")
    lines[4] = lines[4].replace("-05:00", "").replace("disturbance", "upset")
    calls = _file(tmp_path, "c.csv", "\n".join(lines))
    rules = _file(tmp_path, "r.yaml", EXAMPLE_YAML)
    stderr = _refused(agency, "test", "--agency", agency.slug, rules, calls)
    assert "2 bad row(s); nothing was counted" in stderr
    assert "line 3, column priority: '7' is not a priority from 1 to 4" in stderr
    assert "line 5, column received_at: '2026-11-23T10:15:00' has no offset" in stderr
    assert "line 5, column category: 'upset' is not one of suicidal_ideation," in stderr


def test_an_unknown_agency_is_named(agency: AgencyKit, tmp_path: Path) -> None:
    stderr = _refused(agency, "show", "--agency", "nowhere")
    assert "no agency 'nowhere'" in stderr
