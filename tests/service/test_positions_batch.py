"""The bulk AVL feed over real HTTP: a CAD moves a whole fleet in batches, each report
answered on its own, and the next call goes to whoever is nearest now."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dispatch.cells import position_cell
from models.responder import Responder
from models.vocabulary import ResponderStatus, Role
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.service.factories import NORRISTOWN, call_body, north_of, responder


def moment(seconds_ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def report(
    unit: str, where: tuple[float, float], at: str, *, by: str = "external_id"
) -> dict[str, Any]:
    return {by: unit, "lat": where[0], "lon": where[1], "at": at}


def put(client: httpx.Client, reports: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.put("/v1/responders/positions", json={"positions": reports})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_each_report_is_answered_on_its_own_and_the_newest_wins(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    unit = dispatcher.post(
        "/v1/responders", json={"kind": "clinician", "name": "Ana", "external_id": "unit-7"}
    ).json()
    other = responder(dispatcher, kind="clinician", at=NORRISTOWN)
    here, there, later = north_of(1_000), north_of(2_000), north_of(3_000)
    with agency.client(Role.cad) as cad:
        done = put(
            cad,
            [
                report("unit-7", here, moment(30)),
                report("unit-7", there, moment(10)),  # the same unit, newer: it wins
                report("unit-7", later, moment(20)),  # older than the one before: stale
                # placed a moment ago by a single PUT: a fix from now on moves it
                report(other["id"], here, moment(-1), by="responder_id"),
                report("unit-404", here, moment(5)),
                report("00000000-0000-0000-0000-000000000000", here, moment(5), by="responder_id"),
                report("unit-7", later, moment(-300)),  # five minutes in the future
            ],
        )
    assert (done["applied"], done["stale"], done["unknown"], done["refused"]) == (3, 1, 2, 1)
    outcomes = [(r["index"], r["outcome"]) for r in done["results"]]
    assert outcomes == [
        (0, "applied"),
        (1, "applied"),
        (2, "stale"),
        (3, "applied"),
        (4, "unknown"),
        (5, "unknown"),
        (6, "refused"),
    ]
    assert done["results"][0]["responder_id"] == unit["id"]
    assert "no unit with external_id 'unit-404'" in done["results"][4]["detail"]
    assert "ahead of the server's clock" in done["results"][6]["detail"]
    moved = dispatcher.get(f"/v1/responders/{unit['id']}").json()["position"]
    assert (moved["lat"], moved["lon"]) == there
    assert dispatcher.get(f"/v1/responders/{other['id']}").json()["position"]["lat"] == here[0]


def test_another_agencys_units_are_unknown_and_stay_where_they_are(
    agency: AgencyKit, dispatcher: httpx.Client, make_agency: Callable[[], AgencyKit]
) -> None:
    """A CAD names units by another agency's id, and by an external id both agencies
    use: only its own unit of that name moves."""
    mine = dispatcher.post(
        "/v1/responders", json={"kind": "clinician", "name": "Ana", "external_id": "unit-9"}
    ).json()
    neighbour = make_agency()
    with neighbour.client(Role.dispatcher) as theirs:
        twin = theirs.post(
            "/v1/responders", json={"kind": "clinician", "name": "Bo", "external_id": "unit-9"}
        ).json()
        stranger = responder(theirs, kind="clinician", at=NORRISTOWN)
        here = north_of(700)
        with agency.client(Role.cad) as cad:
            done = put(
                cad,
                [
                    report(stranger["id"], here, moment(), by="responder_id"),
                    report(twin["id"], here, moment(), by="responder_id"),
                    report("unit-9", here, moment()),
                ],
            )
        assert [r["outcome"] for r in done["results"]] == ["unknown", "unknown", "applied"]
        assert done["results"][2]["responder_id"] == mine["id"]
        assert (
            theirs.get(f"/v1/responders/{stranger['id']}").json()["position"]["lat"]
            == (NORRISTOWN[0])
        )
        assert theirs.get(f"/v1/responders/{twin['id']}").json()["position"] is None
    assert dispatcher.get(f"/v1/responders/{mine['id']}").json()["position"]["lat"] == here[0]


def test_a_batch_that_is_wrong_is_refused_whole_and_moves_nobody(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    unit = responder(dispatcher, kind="clinician", at=NORRISTOWN)
    good = report(unit["id"], north_of(500), moment(), by="responder_id")
    refused = {
        "exactly one of responder_id and external_id": [
            good,
            {**good, "external_id": "unit-1"},
        ],
        "less than or equal to 90": [good, {**good, "lat": 91.0}],
        "at most 1000 items": [good] * 1_001,
        "at least 1 item": [],
        "Field required": [{"responder_id": unit["id"], "lat": 40.0, "lon": -75.0}],
    }
    with agency.client(Role.cad) as cad:
        for says, reports in refused.items():
            answer = cad.put("/v1/responders/positions", json={"positions": reports})
            assert answer.status_code == 422, answer.text
            assert says in answer.text, answer.text
        huge = cad.put(
            "/v1/responders/positions",
            content=b'{"positions": [' + b" " * (1024 * 1024) + b"]}",
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413 and "1048576 bytes" in huge.json()["detail"]
    assert dispatcher.get(f"/v1/responders/{unit['id']}").json()["position"]["lat"] == NORRISTOWN[0]
    with agency.client(Role.responder, responder_id=unit["id"]) as phone:
        assert phone.put("/v1/responders/positions", json={"positions": [good]}).status_code == 403


def test_a_fleet_of_two_thousand_moved_in_batches_moves_the_next_offer(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """2,000 units on duty far away; two batches of 1,000 (each over the usual 64 KiB
    body limit) bring one of them next to the call, which it is offered."""
    far = north_of(20_000)

    def fleet(tx: Tx) -> None:
        for i in range(2_000):
            tx.session.add(
                Responder(
                    agency_id=agency.id,
                    kind="clinician",
                    name=f"Unit {i}",
                    external_id=f"u-{i}",
                    status=ResponderStatus.available,
                    lat=far[0],
                    lon=far[1],
                    position_cell=position_cell(*far),
                    position_at=datetime.now(UTC) - timedelta(minutes=5),
                )
            )

    agency.server.uow.write_sync(fleet)
    spots = {i: north_of(5_000 + i) for i in range(2_000)}
    spots[1_234] = north_of(50)  # the one that drives to the call's street
    with agency.client(Role.cad) as cad:
        for start in (0, 1_000):
            batch = [report(f"u-{i}", spots[i], moment()) for i in range(start, start + 1_000)]
            assert put(cad, batch)["applied"] == 1_000
    call = dispatcher.post("/v1/calls", json=call_body(category="welfare_check")).json()
    (offer,) = call["assignments"]
    chosen = dispatcher.get(f"/v1/responders/{offer['responder_id']}").json()
    assert chosen["external_id"] == "u-1234"
    assert offer["distance_m"] < 100
