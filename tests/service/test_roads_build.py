"""`corespond roads build`, the real console script in its own process, on the test
town and on files it must refuse without leaving anything at --out."""

import subprocess
import sys
from pathlib import Path

from service.routing.graph import RoadGraph
from tests.service.osm_town import write_town

CORESPOND = Path(sys.executable).with_name("corespond")


def _build(extract: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CORESPOND), "roads", "build", str(extract), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_town_builds_into_exactly_the_file_named(tmp_path: Path) -> None:
    town = write_town(tmp_path)
    out = tmp_path / "town.roads"
    done = _build(town.path, out)
    assert done.returncode == 0, done.stderr
    # 26 streets x 31 avenues and the island's 6 x 6; every street both ways but one.
    assert f"wrote {out}: " in done.stdout
    assert "842 nodes, 3,140 edges, built in" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["town.osm", "town.roads"]
    graph = RoadGraph.load(out)
    across, same_side = graph.to_one([town.across_river, town.same_side], town.call)
    assert across is not None and same_side is not None
    assert same_side.eta_s < across.eta_s


def _refused(extract: Path, out: Path, says: str) -> None:
    done = _build(extract, out)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"Error: {extract}: {says}")
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_empty_file_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    empty = tmp_path / "county.osm.pbf"
    empty.touch()
    _refused(empty, tmp_path / "county.roads", "the file is empty, not an OpenStreetMap extract")
    assert [p.name for p in tmp_path.iterdir()] == ["county.osm.pbf"]


def test_a_file_that_is_not_osm_is_refused(tmp_path: Path) -> None:
    for name, content in [("county.osm", b"lat,lon\n40.1,-75.3\n"), ("county.pbf", b"\x00" * 64)]:
        not_osm = tmp_path / name
        not_osm.write_bytes(content)
        _refused(not_osm, tmp_path / "county.roads", "not a readable OpenStreetMap extract")
    assert not (tmp_path / "county.roads").exists()


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path / "nowhere.osm.pbf", tmp_path / "county.roads", "no such file")
    assert list(tmp_path.iterdir()) == []


def test_an_extract_without_drivable_roads_is_refused(tmp_path: Path) -> None:
    paths = tmp_path / "paths.osm"
    paths.write_text(
        '<osm version="0.6">'
        '<node id="1" lat="40.0" lon="-75.0"/><node id="2" lat="40.001" lon="-75.0"/>'
        '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way>'
        "</osm>"
    )
    _refused(paths, tmp_path / "paths.roads", "no roads a car can drive in this extract")
    assert not (tmp_path / "paths.roads").exists()


def test_a_failed_build_leaves_the_previous_graph_as_it_was(tmp_path: Path) -> None:
    town = write_town(tmp_path)
    out = tmp_path / "county.roads"
    assert _build(town.path, out).returncode == 0
    before = out.read_bytes()
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><way id=")
    _refused(broken, out, "not a readable OpenStreetMap extract")
    assert out.read_bytes() == before
    assert RoadGraph.load(out).to_one([town.same_side], town.call)[0] is not None
