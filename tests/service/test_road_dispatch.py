"""Dispatch by road, over real HTTP: a server pointed at a graph built from an OSM file
offers the clinician who arrives first, says so, and falls back to the straight line
when the road cannot answer."""

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch.travel import Point
from models.vocabulary import Role
from tests.conftest import (
    CORESPOND,
    AgencyKit,
    Server,
    free_port,
    new_agency,
    start_server,
    stop_server,
)
from tests.service import eido_build
from tests.service.factories import call_body, responder
from tests.service.osm_town import Town, write_town
from tests.service.test_programme_rules import wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RoadServer:
    server: Server
    town: Town
    graph: Path


@pytest.fixture(scope="module")
def town_graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[Town, Path]:
    where = tmp_path_factory.mktemp("town")
    town = write_town(where)
    graph = where / "town.roads"
    built = subprocess.run(
        [CORESPOND, "roads", "build", str(town.path), "--out", str(graph)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    return town, graph


@pytest.fixture(scope="module")
def road_server(
    tmp_path_factory: pytest.TempPathFactory, town_graph: tuple[Town, Path]
) -> Iterator[RoadServer]:
    town, graph = town_graph
    server = start_server(
        tmp_path_factory.mktemp("roads"), extra_env={"CORESPOND_ROUTING": str(graph)}
    )
    yield RoadServer(server, town, graph)
    stop_server(server)


def at(point: Point) -> tuple[float, float]:
    return point.lat, point.lon


def clinicians(desk: httpx.Client, town: Town) -> tuple[dict[str, Any], dict[str, Any]]:
    across = responder(desk, kind="clinician", name="Chen", at=at(town.across_river))
    same_side = responder(desk, kind="clinician", name="Ruiz", at=at(town.same_side))
    return across, same_side


def post(desk: httpx.Client, where: Point, language: str | None = None) -> dict[str, Any]:
    body = call_body(category="welfare_check")
    body["location"] = {"lat": where.lat, "lon": where.lon, "address": "South Bank St"}
    if language is not None:
        body["language"] = language
    answer = desk.post("/v1/calls", json=body)
    assert answer.status_code == 201, answer.text
    call: dict[str, Any] = answer.json()
    return call


def test_by_road_the_clinician_on_the_calls_side_of_the_river_is_offered(
    road_server: RoadServer,
) -> None:
    kit = new_agency(road_server.server)
    with kit.client(Role.dispatcher) as desk:
        _across, same_side = clinicians(desk, road_server.town)
        call = post(desk, road_server.town.call)
        board = desk.get(f"/v1/calls/{call['id']}").json()
    assert board["plan"]["reason"] == call["plan"]["reason"]
    (offer,) = call["assignments"]
    assert offer["responder_id"] == same_side["id"]
    assert offer["travel_by"] == "road graph town.roads"
    assert 2_000 < offer["distance_m"] < 2_400  # 2.1 km by road, 1.5 km in a straight line
    assert "clinician: chose Ruiz (" in call["plan"]["reason"]
    assert "min by road) over Chen (300 m away, " in call["plan"]["reason"]
    # it names a colleague and where they are: for staff, not for the responders
    with kit.client(Role.responder, responder_id=same_side["id"]) as phone:
        seen = phone.get(f"/v1/calls/{call['id']}").json()
    assert "Chen" not in seen["plan"]["reason"] and "chose" not in seen["plan"]["reason"]


def test_in_a_straight_line_the_clinician_across_the_river_is_offered(
    agency: AgencyKit, dispatcher: httpx.Client, town_graph: tuple[Town, Path]
) -> None:
    town, _ = town_graph
    across, _same_side = clinicians(dispatcher, town)
    call = post(dispatcher, town.call)
    (offer,) = call["assignments"]
    assert offer["responder_id"] == across["id"]
    assert offer["travel_by"] == "straight line"
    assert "by road" not in call["plan"]["reason"]


def test_a_call_off_the_road_network_is_ranked_in_a_straight_line_and_says_why(
    road_server: RoadServer,
) -> None:
    kit = new_agency(road_server.server)
    before = road_server.server.metrics().get("corespond_routing_fallbacks_total", 0.0)
    with kit.client(Role.dispatcher) as desk:
        responder(desk, kind="clinician", name="Chen", at=at(road_server.town.across_river))
        call = post(desk, road_server.town.off_road)
    (offer,) = call["assignments"]
    assert offer["travel_by"] == "straight line"
    assert "road travel unavailable (the call is " in call["plan"]["reason"]
    assert "from the nearest road" in call["plan"]["reason"]
    after = road_server.server.metrics()["corespond_routing_fallbacks_total"]
    assert after == before + 1
    assert "routing failed" in road_server.server.log.read_text()


def test_a_routing_server_that_is_down_costs_a_dispatch_nothing_but_the_road(
    tmp_path: Path, town_graph: tuple[Town, Path]
) -> None:
    town, _ = town_graph
    nobody = f"osrm+http://127.0.0.1:{free_port()}"
    server = start_server(tmp_path, extra_env={"CORESPOND_ROUTING": nobody})
    try:
        kit = new_agency(server)
        with kit.client(Role.dispatcher) as desk:
            across, _same_side = clinicians(desk, town)
            call = post(desk, town.call)
    finally:
        stop_server(server)
    (offer,) = call["assignments"]
    assert offer["responder_id"] == across["id"] and offer["travel_by"] == "straight line"
    assert "road travel unavailable (the routing server at 127.0.0.1:" in call["plan"]["reason"]


@pytest.mark.parametrize(
    ("routing", "says"),
    [
        ("/nowhere/county.roads", "no road graph at '/nowhere/county.roads'"),
        ("graphhopper://x:1", "unsupported routing 'graphhopper://x:1'"),
    ],
)
def test_a_routing_setting_that_names_nothing_stops_the_start_with_why(
    tmp_path: Path, routing: str, says: str
) -> None:
    done = subprocess.run(
        [CORESPOND, "serve", "--port", str(free_port())],
        env={
            "PATH": "/usr/bin:/bin",
            "CORESPOND_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "CORESPOND_ROUTING": routing,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert says in done.stderr, done.stderr


def test_after_a_decline_the_next_offer_is_ranked_by_road_too(road_server: RoadServer) -> None:
    kit = new_agency(road_server.server)
    with kit.client(Role.dispatcher) as desk:
        across, _same_side = clinicians(desk, road_server.town)
        call = post(desk, road_server.town.call)
        (first,) = call["assignments"]
        assert desk.post(f"/v1/assignments/{first['id']}/decline").status_code == 200
        after = desk.get(f"/v1/calls/{call['id']}").json()
    (second,) = [a for a in after["assignments"] if a["state"] == "offered"]
    assert second["responder_id"] == across["id"]
    assert second["travel_by"] == "road graph town.roads"
    assert second["distance_m"] > 3_000  # round by the bridge, not 300 m


def test_an_expired_offer_goes_to_the_next_by_road(road_server: RoadServer) -> None:
    kit = new_agency(road_server.server)
    kit.set_offer_timeout(1)
    with kit.client(Role.dispatcher) as desk:
        across, _same_side = clinicians(desk, road_server.town)
        call = post(desk, road_server.town.call)
        after = wait_for(
            lambda: desk.get(f"/v1/calls/{call['id']}").json(),
            lambda c: any(a["responder_id"] == across["id"] for a in c["assignments"]),
        )
    offered = next(a for a in after["assignments"] if a["responder_id"] == across["id"])
    assert offered["travel_by"] == "road graph town.roads"


def test_a_fallback_team_is_offered_by_road(road_server: RoadServer) -> None:
    """A peer team that nobody accepts in time gives way to a clinician, chosen by road."""
    kit = new_agency(road_server.server)
    document = {
        "timezone": "UTC",
        "teams": {
            "peer": {"seats": [{"kind": "peer"}]},
            "solo": {"seats": [{"kind": "clinician"}]},
        },
        "rules": [{"name": "all", "send": "peer", "fallback": [{"after_s": 1, "send": "solo"}]}],
    }
    with kit.client(Role.supervisor) as boss, kit.client(Role.dispatcher) as desk:
        assert boss.put("/v1/rules", json=document).status_code == 200
        _across, same_side = clinicians(desk, road_server.town)
        responder(desk, kind="peer", at=at(road_server.town.bridge))
        call = post(desk, road_server.town.call)
        assert call["plan"]["team"] == "peer"
        after = wait_for(
            lambda: desk.get(f"/v1/calls/{call['id']}").json(),
            lambda c: c["plan"]["team"] == "solo",
        )
    (offer,) = [a for a in after["assignments"] if a["role"] == "clinician"]
    assert offer["responder_id"] == same_side["id"]
    assert offer["travel_by"] == "road graph town.roads"


def test_an_osrm_server_ranks_by_road_and_one_too_slow_or_broken_is_passed_over(
    tmp_path: Path, town_graph: tuple[Town, Path]
) -> None:
    """An OSRM server ranks; another agency's token cannot make it route (its decline
    is refused before any routing); an answer that is not JSON and one too slow both
    give the straight line, saying why, each counted."""
    town, _ = town_graph
    osrm = subprocess.Popen(
        [sys.executable, "-m", "tests.service.routing_server"], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert osrm.stdout is not None
        where = f"127.0.0.1:{int(osrm.stdout.readline())}"
        server = start_server(tmp_path, extra_env={"CORESPOND_ROUTING": f"osrm+http://{where}"})
        try:
            kit, other = new_agency(server), new_agency(server)
            with kit.client(Role.dispatcher) as desk, other.client(Role.dispatcher) as stranger:
                clinicians(desk, town)
                responder(desk, kind="clinician", name="Ng", at=at(town.bridge))
                quick = post(desk, town.call)
                asked = len(httpx.get(f"http://{where}/_seen").json())
                refused = stranger.post(f"/v1/assignments/{quick['assignments'][0]['id']}/decline")
                assert refused.status_code == 404
                assert len(httpx.get(f"http://{where}/_seen").json()) == asked  # nothing routed
                httpx.post(f"http://{where}/_control", json={"mode": "garbage"}).raise_for_status()
                broken = post(desk, town.call)
                httpx.post(f"http://{where}/_control", json={"mode": "slow"}).raise_for_status()
                slow = post(desk, town.call)
            fallbacks = server.metrics()["corespond_routing_fallbacks_total"]
        finally:
            stop_server(server)
    finally:
        osrm.kill()
        osrm.wait()
    assert quick["assignments"][0]["travel_by"] == f"OSRM at {where}"
    assert slow["assignments"][0]["travel_by"] == "straight line"
    assert (
        f"road travel unavailable (the routing server at {where} did not answer within 200 ms)"
        in slow["plan"]["reason"]
    )
    assert broken["assignments"][0]["travel_by"] == "straight line"
    assert "sent an answer that is not JSON" in broken["plan"]["reason"]
    assert fallbacks == 2


@pytest.mark.parametrize("where", ["call", "off_road"])
def test_a_waiting_call_is_matched_by_road_when_responders_free_up(
    road_server: RoadServer, where: str
) -> None:
    """Both clinicians busy on one call, another waits; cancelling the first frees both
    in one write, and within a tick the waiting call is offered to the one who arrives
    first by road. A waiting call off the network is matched in a straight line."""
    town = road_server.town
    kit = new_agency(road_server.server)
    document = {
        "timezone": "UTC",
        "teams": {
            "pair": {"seats": [{"kind": "clinician"}, {"kind": "clinician"}]},
            "solo": {"seats": [{"kind": "clinician"}]},
        },
        "rules": [
            {"name": "disturbance", "when": {"categories": ["disturbance"]}, "send": "pair"},
            {"name": "the rest", "send": "solo"},
        ],
    }
    fallbacks = road_server.server.metrics().get("corespond_routing_fallbacks_total", 0.0)
    with kit.client(Role.supervisor) as boss, kit.client(Role.dispatcher) as desk:
        assert boss.put("/v1/rules", json=document).status_code == 200
        across, same_side = clinicians(desk, town)
        body = call_body(category="disturbance")
        body["location"] = {"lat": town.bridge.lat, "lon": town.bridge.lon}
        first = desk.post("/v1/calls", json=body).json()
        assert len(first["assignments"]) == 2  # both clinicians taken
        waiting = post(desk, getattr(town, where))
        assert waiting["status"] == "pending" and waiting["assignments"] == []
        cancelled = desk.post(f"/v1/calls/{first['id']}/cancel", json={"reason": "duplicate"})
        assert cancelled.status_code == 200, cancelled.text
        after = wait_for(
            lambda: desk.get(f"/v1/calls/{waiting['id']}").json(),
            lambda c: bool(c["assignments"]),
        )
    (offer,) = after["assignments"]
    if where == "call":
        assert offer["responder_id"] == same_side["id"]  # 2.1 km by road, not 300 m across
        assert offer["travel_by"] == "road graph town.roads"
        assert offer["distance_m"] > 2_000
    else:
        assert offer["travel_by"] == "straight line"
        assert offer["responder_id"] in (across["id"], same_side["id"])
        after_metric = road_server.server.metrics()["corespond_routing_fallbacks_total"]
        assert after_metric > fallbacks


# A programme that sends a peer, and the clinician team to a mental-health crisis: the
# tests whose call changes team.
PEER_UNLESS_CRISIS = {
    "timezone": "UTC",
    "teams": {
        "peer": {"seats": [{"kind": "peer"}]},
        "clinic": {"seats": [{"kind": "clinician"}]},
    },
    "rules": [
        {"name": "crisis", "when": {"categories": ["mental_health_crisis"]}, "send": "clinic"},
        {"name": "the rest", "send": "peer"},
    ],
}


def test_a_team_replaced_by_an_update_is_offered_by_road(road_server: RoadServer) -> None:
    """A welfare check sent to a peer turns out a mental-health crisis: the programme's
    clinician team replaces the peer, and its seat goes to who arrives first by road."""
    kit = new_agency(road_server.server)
    with kit.client(Role.supervisor) as boss, kit.client(Role.dispatcher) as desk:
        assert boss.put("/v1/rules", json=PEER_UNLESS_CRISIS).status_code == 200
        _across, same_side = clinicians(desk, road_server.town)
        responder(desk, kind="peer", at=at(road_server.town.bridge))
        call = post(desk, road_server.town.call)
        assert call["plan"]["team"] == "peer"
        updated = desk.patch(f"/v1/calls/{call['id']}", json={"category": "mental_health_crisis"})
    assert updated.status_code == 200, updated.text
    after = updated.json()
    assert after["plan"]["team"] == "clinic"
    (offer,) = [a for a in after["assignments"] if a["role"] == "clinician"]
    assert offer["responder_id"] == same_side["id"]
    assert offer["travel_by"] == "road graph town.roads"


def test_eidos_are_ranked_by_road_at_intake_and_when_a_later_one_changes_the_team(
    road_server: RoadServer,
) -> None:
    """A CAD's EIDO makes a call whose peer seat, and then (its incident reclassified by
    a later EIDO) a clinician seat, are each offered by road."""
    town = road_server.town
    kit = new_agency(road_server.server)
    with kit.client(Role.supervisor) as boss, kit.client(Role.dispatcher) as desk:
        assert boss.put("/v1/rules", json=PEER_UNLESS_CRISIS).status_code == 200
        _across, same_side = clinicians(desk, town)
        responder(desk, kind="peer", name="Ono", at=at(town.same_side))
    incident = "urn:emergency:uid:incidentid:road1:psap.example.gov"
    where = eido_build.point(town.call.lat, town.call.lon)
    with kit.client(Role.cad) as cad:
        first = cad.post(
            "/v1/eido",
            json=eido_build.eido(incident=incident, incident_type="WelfareCheck", location=where),
        )
        assert first.status_code == 201, first.text
        call_id = first.json()["id"]
        (peer,) = cad.get(f"/v1/calls/{call_id}").json()["assignments"]
        assert peer["travel_by"] == "road graph town.roads"
        later = cad.post(
            "/v1/eido",
            json=eido_build.eido(
                incident=incident, incident_type="MentalHealthCrisis", location=where
            ),
        )
        assert later.status_code == 200, later.text
        after = cad.get(f"/v1/calls/{call_id}").json()
    assert after["plan"]["team"] == "clinic"
    (offer,) = [a for a in after["assignments"] if a["role"] == "clinician"]
    assert offer["responder_id"] == same_side["id"]
    assert offer["travel_by"] == "road graph town.roads"
