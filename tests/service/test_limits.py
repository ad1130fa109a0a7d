"""Mass assignment and limits: what a careless or hostile client gets, and that
nothing is written when it is refused."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from models.vocabulary import Role
from tests.conftest import AgencyKit, start_server, stop_server
from tests.service.factories import call_body, responder


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "closed"),
        ("agency_id", "00000000-0000-0000-0000-000000000001"),
        ("responder_id", "00000000-0000-0000-0000-000000000001"),
        ("disposition", "arrest"),
        ("id", "00000000-0000-0000-0000-000000000001"),
        ("assignments", []),
    ],
)
def test_read_only_fields_on_a_call_are_refused_and_nothing_is_written(
    dispatcher: httpx.Client, field: str, value: object
) -> None:
    refused = dispatcher.post("/v1/calls", json={**call_body(), field: value})
    assert refused.status_code == 422
    assert refused.json()["error"] == "ValidationError"
    assert field in refused.json()["detail"]
    assert dispatcher.get("/v1/calls").json() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "available"), ("agency_id", "x"), ("id", "x"), ("position_cell", 1)],
)
def test_read_only_fields_on_a_responder_are_refused(
    dispatcher: httpx.Client, field: str, value: object
) -> None:
    body = {"kind": "clinician", "name": "Dana", field: value}
    assert dispatcher.post("/v1/responders", json=body).status_code == 422
    assert dispatcher.get("/v1/responders").json() == []


def test_nobody_can_put_a_responder_on_a_call_by_hand(dispatcher: httpx.Client) -> None:
    person = responder(dispatcher, kind="clinician")
    for status in ("offered", "assigned", "en_route", "on_scene"):
        refused = dispatcher.put(f"/v1/responders/{person['id']}/status", json={"status": status})
        assert refused.status_code == 422, status
    assert dispatcher.get(f"/v1/responders/{person['id']}").json()["status"] == "available"


def test_an_oversized_body_is_413_whether_announced_or_streamed(
    dispatcher: httpx.Client,
) -> None:
    huge = call_body(narrative="x" * 70_000)  # over the 64 KiB default
    announced = dispatcher.post("/v1/calls", json=huge)
    assert announced.status_code == 413
    assert announced.json()["error"] == "TooLarge"

    def chunks() -> Iterator[bytes]:
        yield b'{"narrative": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}'

    streamed = dispatcher.post(
        "/v1/calls", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert dispatcher.get("/v1/calls").json() == []


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=-1", "offset=-1", "offset=99999999999999999999"]
)
def test_page_sizes_and_offsets_are_bounded(dispatcher: httpx.Client, query: str) -> None:
    for path in ("/v1/calls", "/v1/responders"):
        response = dispatcher.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query, response.text)
        assert response.json()["error"] == "ValidationError"


def test_an_oversized_socket_message_closes_with_1009(agency: AgencyKit) -> None:
    with connect(agency.server.ws_url, max_size=None) as ws:
        ws.send('{"type": "hello", "token": "' + "z" * 100_000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def test_a_token_over_its_rate_gets_429_and_others_are_not_slowed(tmp_path: Path) -> None:
    from service.agencies.operations import create_agency

    server = start_server(tmp_path, extra_env={"CORESPOND_RATE_LIMIT": "5/second;20/minute"})
    try:
        created = server.uow.write_sync(create_agency, slug="rate")
        kit = AgencyKit(server=server, slug="rate", id=created.id)
        with kit.client(Role.dispatcher) as busy, kit.client(Role.dispatcher) as calm:
            answers = [busy.get("/v1/calls").status_code for _ in range(12)]
            assert answers[:5] == [200] * 5
            assert 429 in answers[5:]
            limited = busy.get("/v1/calls")
            assert limited.status_code == 429
            assert limited.json()["error"] == "TooManyRequests"
            assert int(limited.headers["retry-after"]) >= 1
            assert calm.get("/v1/calls").status_code == 200
            anonymous = [httpx.get(f"{server.url}/v1/calls").status_code for _ in range(8)]
            assert anonymous[:5] == [401] * 5 and 429 in anonymous[5:]
    finally:
        stop_server(server)


def test_a_cad_token_has_its_roles_rate_and_a_console_token_the_default(tmp_path: Path) -> None:
    from service.agencies.operations import create_agency

    server = start_server(
        tmp_path,
        extra_env={
            "CORESPOND_RATE_LIMIT": "5/second;20/minute",
            "CORESPOND_RATE_LIMIT_BY_ROLE": '{"cad": "40/second;200/minute"}',
        },
    )
    try:
        created = server.uow.write_sync(create_agency, slug="roles")
        kit = AgencyKit(server=server, slug="roles", id=created.id)
        with kit.client(Role.cad) as cad, kit.client(Role.dispatcher) as console:
            # A feed: far past the default's 5 a second, within the CAD's own 40.
            fed = [cad.get("/v1/responders").status_code for _ in range(30)]
            assert fed == [200] * 30
            read = [console.get("/v1/calls").status_code for _ in range(8)]
            assert read[:5] == [200] * 5 and 429 in read[5:]
            more = [cad.get("/v1/responders").status_code for _ in range(20)]
            assert 429 in more  # the CAD has a limit too
    finally:
        stop_server(server)


def test_the_cad_default_takes_a_fleet_of_two_thousand_at_once() -> None:
    """2,000 units reporting on the same 5-second tick, one request each, are let
    through; the minute's allowance holds 2,000 every 5 s with room for the calls."""
    import asyncio

    from limits import parse_many
    from limits.aio.storage import MemoryStorage

    from service.settings import Settings
    from service.web.rate_limit import Allowance

    rates = Settings().rate_limit_by_role[Role.cad]
    per_minute = next(rate for rate in parse_many(rates) if rate.GRANULARITY.name == "minute")
    assert per_minute.amount >= 2_000 * 12 * 1.5

    async def tick() -> list[int | None]:
        allowance = Allowance(rates, MemoryStorage())
        return [await allowance.spend("token:cad") for _ in range(2_000)]

    assert asyncio.run(tick()) == [None] * 2_000


@pytest.mark.parametrize(
    ("value", "named"),
    [('{"cad": "lots"}', "the cad role's rate"), ('{"janitor": "5/second"}', "'dispatcher'")],
)
def test_a_role_rate_that_cannot_be_read_stops_the_start(
    value: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    from service.settings import Settings

    monkeypatch.setenv("CORESPOND_RATE_LIMIT_BY_ROLE", value)
    with pytest.raises(ValidationError, match="rate_limit_by_role") as refused:
        Settings()
    assert named in str(refused.value)
