"""The lock files pin every dependency pyproject names, within its range, with hashes: a
change to pyproject that was not locked (`make lock`) fails here, not on a fresh clone."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, set[str]]:
    """Each package's pinned versions (more than one where the lock pins by Python
    version, as numpy's `; python_full_version < '3.12'`)."""
    pinned: dict[str, set[str]] = {}
    for name, version in _PIN.findall((ROOT / lock).read_text()):
        pinned.setdefault(canonicalize_name(name), set()).add(version)
    return pinned


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


def unmet(requirements: list[Requirement], pinned: dict[str, set[str]]) -> list[str]:
    problems = []
    for req in requirements:
        versions = pinned.get(canonicalize_name(req.name))
        if not versions:
            problems.append(f"{req.name} is not in the lock")
        for version in sorted(versions or ()):
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f"{req.name}=={version} is outside {req.specifier}")
    return problems


def test_the_development_lock_pins_everything_pyproject_asks_for() -> None:
    runtime, dev = declared()
    assert unmet(runtime + dev, pins("requirements-dev.txt")) == []


def test_the_service_lock_pins_the_service_alone() -> None:
    runtime, dev = declared()
    pinned = pins("requirements.txt")
    assert unmet(runtime, pinned) == []
    assert {"pytest", "mypy", "ruff"} <= {canonicalize_name(r.name) for r in dev}
    assert not {"pytest", "mypy", "ruff"} & set(pinned)


def test_the_service_runs_the_versions_the_tests_ran() -> None:
    dev, service = pins("requirements-dev.txt"), pins("requirements.txt")
    assert {name: service[name] for name in service} == {name: dev[name] for name in service}


def test_the_makefile_bootstraps_the_locked_uv() -> None:
    assert "UV_VERSION := $(shell sed -n 's/^uv==" in (ROOT / "Makefile").read_text()
    assert len(pins("requirements-dev.txt")["uv"]) == 1


def test_every_pin_carries_a_hash() -> None:
    for lock in ("requirements.txt", "requirements-dev.txt"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
        for entry in entries:
            if _PIN.match(entry):
                assert "--hash=sha256:" in entry, f"{lock}: {entry.splitlines()[0]} has no hash"


def test_a_pin_outside_its_range_is_seen() -> None:
    assert unmet([Requirement("redis>=8.2")], {"redis": {"8.1.0"}}) == [
        "redis==8.1.0 is outside >=8.2"
    ]
    assert unmet([Requirement("numpy>=2.5")], {"numpy": {"2.4.6", "2.5.5"}}) == [
        "numpy==2.4.6 is outside >=2.5"
    ]
    assert unmet([Requirement("h3>=4.1")], {}) == ["h3 is not in the lock"]
