"""README.md's tour, run as a person pastes it: its `sh` blocks in order, from the
project's root, against a real server on a fresh database (a free port stands in for
8000). Extracted from README.md itself, so the README cannot drift from this test."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def tour_blocks(readme: str) -> list[str]:
    """The `sh` blocks of the `## A tour` section, which another `##` section follows."""
    start = readme.index("\n## A tour\n")
    end = readme.index("\n## ", start + 1)
    return _BLOCK.findall(readme[start:end])


def test_the_tour_is_bare_commands_that_need_nothing_from_the_repository() -> None:
    blocks = tour_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 4
    script = "".join(blocks)
    for line in script.splitlines():
        assert not line.startswith("$ "), f"a prompt, not a command: {line}"
        assert " @" not in line, f"reads a file: {line}"
    # What it uses of the checkout is the installed command, nothing the repository holds.
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            named = re.search(rf"(?<![\w.-]){re.escape(entry.name)}(?![\w-])", script)
            assert named is None, f"the tour uses {entry.name} from the repository"
    assert ".venv/bin/corespond" in script


@pytest.mark.timeout(240)
def test_every_command_of_the_tour_works_when_pasted_in_order(tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.fail("jq is missing: `make test` installs it (apt-get install jq)")
    script = "\n".join(tour_blocks((ROOT / "README.md").read_text()))
    server = start_server(tmp_path)
    port = server.env["CORESPOND_PORT"]
    script = script.replace("localhost:8000", f"localhost:{port}")
    assert ":8000" not in script, "the tour names port 8000 in a way this test cannot move"
    try:
        # -e and pipefail: any command that fails (curl answers an HTTP error with
        # --fail-with-body; a corespond command exits non-zero) stops the tour here.
        done = subprocess.run(
            ["bash", "-x", "-e", "-o", "pipefail", "-c", script],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=150,
        )
    finally:
        stop_server(server)
    assert done.returncode == 0, (
        f"the tour stopped:\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}\n"
        f"server log:\n{server.log.read_text()[-2000:]}"
    )
    assert '"error"' not in done.stdout
    said = done.stdout
    assert '"rule": "weapon or violence",' in said and '"team": "co_response",' in said
    assert '{"rule":"no safety flag","team":"clinician","reason":' in said
    assert '{"role":"clinician","state":"accepted"}' in said
    assert '{"role":"clinician","state":"cleared"}' in said
    assert '"status": "closed"' in said
    assert '"disposition": "referred"' in said
    assert said.count('"status":"available"}') == 4  # both made available, both freed


def test_the_front_pages_stay_short() -> None:
    """A newcomer's five minutes, and the benchmarks' present: reference lives in docs/,
    history in bench/HISTORY.md."""
    assert len((ROOT / "README.md").read_text()) <= 12_000
    assert len((ROOT / "bench/README.md").read_text()) <= 10_000
