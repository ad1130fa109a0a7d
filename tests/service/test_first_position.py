"""A responder on duty before its phone has a fix: the search cannot see it, so the
waiting calls are offered it the moment its first position comes, by any path; the
fleet's ordinary position updates re-plan nothing."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from dispatch.config import DispatchConfig
from models.agency import Principal
from models.positions import PositionBatch
from models.responder import PositionUpdate
from models.vocabulary import Role
from service.emergencies import positions as placing
from service.responders import operations as responders
from service.responders import positions as feed
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import north_of, post_call, responder


def _fix(where: tuple[float, float]) -> dict[str, float]:
    return {"lat": where[0], "lon": where[1]}


def _offered_to(staff: httpx.Client, call: dict[str, Any]) -> list[str]:
    seen = staff.get(f"/v1/calls/{call['id']}").json()
    return [a["responder_id"] for a in seen["assignments"] if a["state"] == "offered"]


def test_a_waiting_call_goes_to_a_clinician_on_duty_the_moment_their_phone_has_a_fix(
    dispatcher: httpx.Client,
) -> None:
    call = post_call(dispatcher)
    assert call["status"] == "pending"
    clinician = responder(dispatcher, kind="clinician", at=None)
    assert clinician["status"] == "available"  # on duty, but the search cannot see it

    moved = dispatcher.put(f"/v1/responders/{clinician['id']}/position", json=_fix(north_of(300)))

    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "offered"
    assert _offered_to(dispatcher, call) == [clinician["id"]]


def test_a_first_fix_over_the_socket_offers_the_waiting_call_too(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    call = post_call(dispatcher)
    clinician = responder(dispatcher, kind="clinician", at=None)
    token = agency.token(Role.responder, responder_id=clinician["id"])
    with console(agency.server.ws_url, token) as phone:
        phone.send({"type": "position", **_fix(north_of(300))})
        result = phone.next_of_type("result")
    assert result["action"] == "position"
    assert result["responder"]["status"] == "offered"
    assert _offered_to(dispatcher, call) == [clinician["id"]]


def test_an_avl_batch_placing_units_matches_every_waiting_call_once_all_have_moved(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    urgent = post_call(dispatcher, priority=1, at=north_of(6_000))
    routine = post_call(dispatcher, priority=3, at=north_of(100))
    near_routine = responder(dispatcher, kind="clinician", at=None)
    near_urgent = responder(dispatcher, kind="clinician", at=None)
    now = datetime.now(UTC).isoformat()
    with agency.client(Role.cad) as cad:
        answer = cad.put(
            "/v1/responders/positions",
            json={
                "positions": [
                    # Matched one unit at a time, the urgent call would take this one.
                    {"responder_id": near_routine["id"], **_fix(north_of(200)), "at": now},
                    {"responder_id": near_urgent["id"], **_fix(north_of(5_900)), "at": now},
                ]
            },
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] == 2
    assert _offered_to(dispatcher, urgent) == [near_urgent["id"]]
    assert _offered_to(dispatcher, routine) == [near_routine["id"]]


@pytest.fixture
def replans(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """The agencies re-planned by the position writes run in this process, in order."""
    seen: list[uuid.UUID] = []

    def spy(replan: Callable[..., int]) -> Callable[..., int]:
        def counted(tx: Any, *, agency_id: uuid.UUID, **kwargs: Any) -> int:
            seen.append(agency_id)
            return replan(tx, agency_id=agency_id, **kwargs)

        return counted

    for module in (placing, feed):
        monkeypatch.setattr(module, "replan_waiting", spy(module.replan_waiting))
    return seen


def test_only_a_first_fix_while_available_replans_once_a_write(
    agency: AgencyKit, dispatcher: httpx.Client, replans: list[uuid.UUID]
) -> None:
    uow, config = agency.server.uow, DispatchConfig()
    cad = Principal(
        token_id=uuid.uuid4(), agency_id=agency.id, agency_slug=agency.slug, role=Role.cad
    )
    placed = responder(dispatcher, kind="clinician")
    off_duty = responder(dispatcher, kind="clinician", at=None, status="off_duty")
    first, second = (responder(dispatcher, kind="officer", at=None) for _ in range(2))

    def move(who: dict[str, Any], where: tuple[float, float]) -> None:
        body = PositionUpdate(lat=where[0], lon=where[1])
        uow.write_sync(
            responders.set_position,
            principal=cad,
            responder_id=uuid.UUID(who["id"]),
            body=body,
            config=config,
        )

    def batch(*units: dict[str, Any]) -> None:
        at = datetime.now(UTC).isoformat()
        body = PositionBatch.model_validate(
            {
                "positions": [
                    {"responder_id": u["id"], **_fix(north_of(50)), "at": at} for u in units
                ]
            }
        )
        uow.write_sync(feed.apply_positions, principal=cad, body=body, config=config)

    move(placed, north_of(700))  # an ordinary update: the responder had a position
    move(off_duty, north_of(700))  # a first fix, but the search does not want it yet
    assert replans == []
    batch(placed, first, second)  # two units join the search: one re-plan for the batch
    assert replans == [agency.id]
    batch(placed, first, second)  # the fleet's next round: ordinary again
    move(first, north_of(900))
    assert replans == [agency.id]
