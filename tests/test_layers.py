"""The layout's import rules hold (pyproject's `[tool.importlinter]`, explained in
docs/architecture.md), and a breach of each would be caught."""

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("service", "dispatch", "models")
TOP_LEVEL_MODULES = 8  # besides __init__ and __main__


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + "\n" + line + "\n")


def broken_contracts(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]


def test_every_import_runs_downhill_and_none_goes_round() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_store_importing_a_feature_is_caught(copy_of_the_tree: Path) -> None:
    add_line(copy_of_the_tree / "service/store/engine.py", "import service.calls.operations")
    result = lint_imports(copy_of_the_tree)
    assert result.returncode != 0
    assert any("layers:" in c for c in broken_contracts(result)), result.stdout


def test_a_cycle_through_a_typing_only_import_is_caught(copy_of_the_tree: Path) -> None:
    # As the unit of work once typed the audit's Actor, which imported the unit of work.
    add_line(
        copy_of_the_tree / "service/store/prepared.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from service.store.unit_of_work import UnitOfWork",
    )
    result = lint_imports(copy_of_the_tree)
    assert any("cycles:" in c for c in broken_contracts(result)), result.stdout


def test_a_feature_reaching_for_another_features_routes_is_caught(
    copy_of_the_tree: Path,
) -> None:
    add_line(
        copy_of_the_tree / "service/assignments/operations.py",
        "from service.calls import routes",
    )
    result = lint_imports(copy_of_the_tree)
    assert any("routes:" in c for c in broken_contracts(result)), result.stdout


def test_the_data_importing_the_service_is_caught(copy_of_the_tree: Path) -> None:
    add_line(copy_of_the_tree / "models/call.py", "import service.errors")
    result = lint_imports(copy_of_the_tree)
    assert any("know nothing of service/" in c for c in broken_contracts(result))


def test_a_new_feature_folder_must_take_its_place_in_the_layers() -> None:
    """The layers contract names every room, so a new folder is checked from its first day."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {name for layer in layers for name in re.split(r"\s*[:|]\s*", layer)}
    rooms = {
        f"service.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "service").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")
    } - {"service.__init__"}
    assert rooms - named == set(), "add these to the layers contract in pyproject.toml"


def test_a_new_features_routes_are_protected_too(copy_of_the_tree: Path) -> None:
    shifts = copy_of_the_tree / "service/shifts"  # a feature no layer names yet
    shifts.mkdir()
    (shifts / "__init__.py").write_text('"""Shifts (a feature; it may import infra)."""\n')
    (shifts / "routes.py").write_text("")
    add_line(copy_of_the_tree / "service/calls/operations.py", "from service.shifts import routes")
    result = lint_imports(copy_of_the_tree)
    assert any("routes:" in c for c in broken_contracts(result)), result.stdout


def test_the_service_hall_stays_small() -> None:
    modules = sorted(
        p.stem for p in (ROOT / "service").glob("*.py") if p.stem not in ("__init__", "__main__")
    )
    assert len(modules) <= TOP_LEVEL_MODULES, modules


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    for init in sorted((ROOT / "service").rglob("__init__.py")):
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring, f"{init.relative_to(ROOT)} has no docstring"
        assert "import" in docstring, f"{init.relative_to(ROOT)} does not say what it may import"
