"""A call in a language few speak, dispatched by road over real HTTP: the database's
fetch of the speakers alone (`offers.speaking_in`) finds the speaker whom the search
of everyone stops short of."""

import httpx

from models.vocabulary import Role
from tests.conftest import new_agency
from tests.service.factories import responder
from tests.service.test_road_dispatch import RoadServer, at, post
from tests.service.test_road_dispatch import road_server as road_server  # a fixture
from tests.service.test_road_dispatch import town_graph as town_graph  # and its own


def _clinician(desk: httpx.Client, name: str, where: tuple[float, float], *tags: str) -> str:
    made = responder(desk, kind="clinician", name=name, at=where, languages=["en", *tags])
    rid: str = made["id"]
    return rid


def test_a_vietnamese_call_goes_to_the_speaker_minutes_away_not_the_one_at_the_door(
    road_server: RoadServer,
) -> None:
    # Ortiz is at the caller's door but speaks no Vietnamese: 300 s on his score, so
    # everyone is searched for only a few seconds of road out. Ruiz, 2.1 km away on
    # the call's side (about 4 minutes), speaks it: only the speakers' own fetch,
    # which goes minutes out, finds him. Chen, across the river, speaks neither.
    town = road_server.town
    kit = new_agency(road_server.server)
    with kit.client(Role.dispatcher) as desk:
        _clinician(desk, "Ortiz", at(town.call), "es")
        ruiz = _clinician(desk, "Ruiz", at(town.same_side), "vi")
        _clinician(desk, "Chen", at(town.across_river))
        call = post(desk, town.call, language="vi")
    (offer,) = call["assignments"]
    assert offer["responder_id"] == ruiz
    assert offer["travel_by"] == "road graph town.roads"
    assert 2_000 < offer["distance_m"] < 2_400
