"""The browser libraries CoRespond serves are the pinned packages, with their licences:
what `make vendor` copied matches browser/package.json and its lock."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "service/consoles/web/vendor"


def test_every_vendored_library_is_the_pinned_package_with_its_licence() -> None:
    wanted = json.loads((ROOT / "browser/package.json").read_text())
    locked = json.loads((ROOT / "browser/package-lock.json").read_text())["packages"]
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    assert set(manifest) == set(wanted["vendor"]) == set(wanted["dependencies"])
    for name, entry in manifest.items():
        assert entry["version"] == wanted["dependencies"][name]  # an exact pin
        assert entry["version"] == locked[f"node_modules/{name}"]["version"]
        assert entry["license"], name
        assert "LICENSE" in entry["files"], name
        assert entry["files"] == [Path(f).name for f in wanted["vendor"][name]]
        for file in entry["files"]:
            assert (VENDOR / name / file).stat().st_size > 0, f"{name}/{file}"


def test_nothing_else_hides_in_the_vendor_folder() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    listed = {VENDOR / name / f for name, e in manifest.items() for f in e["files"]}
    present = {p for p in VENDOR.rglob("*") if p.is_file() and p.name != "MANIFEST.json"}
    assert present == listed


def test_the_lock_pins_versions_and_hashes_and_names_no_registry() -> None:
    assert "omit-lockfile-registry-resolved=true" in (ROOT / "browser/.npmrc").read_text()
    locked = json.loads((ROOT / "browser/package-lock.json").read_text())["packages"]
    for name, entry in locked.items():
        if name:  # "" is the project itself
            assert "resolved" not in entry, name
            assert entry["integrity"].startswith("sha512-"), name
