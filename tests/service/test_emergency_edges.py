"""An emergency's edges: its call ending, its responder freed, its closing, and a raise
with no position known. Each once left a responder in harm's way or an officer stuck:
backup offered on a call that had ended (which the officer could then never clear), a
responder in trouble offered the next call, a closed emergency's seat still waiting for
an officer, a clinician's clear with its disposition thrown away while a backup offer
was out, and an emergency raised before the phone had a fix never backed up."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dispatch.config import DispatchConfig
from models.vocabulary import Role
from service.emergencies.top_up import top_up_backup
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import NEXT_YEAR, north_of, post_call, responder
from tests.service.test_emergencies import _backup_count
from tests.service.test_programme_rules import example, heart_call


def _top_up(agency: AgencyKit) -> None:
    """A pass of the server's backup timer, now (it also runs every second)."""
    agency.server.uow.write_sync(top_up_backup, limit=10, config=DispatchConfig())


def _on_scene(dispatcher: httpx.Client, aid: str) -> None:
    for step in ("accept",):
        assert dispatcher.post(f"/v1/assignments/{aid}/{step}").status_code == 200
    for status in ("en_route", "on_scene"):
        moved = dispatcher.post(f"/v1/assignments/{aid}/status", json={"status": status})
        assert moved.status_code == 200, moved.text


def _status(dispatcher: httpx.Client, who: dict[str, Any]) -> str:
    status: str = dispatcher.get(f"/v1/responders/{who['id']}").json()["status"]
    return status


@pytest.mark.parametrize("ending", ["cleared", "cancelled"])
def test_no_backup_is_offered_on_a_call_that_has_ended(
    agency: AgencyKit, dispatcher: httpx.Client, ending: str
) -> None:
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician")
    call = post_call(dispatcher)
    (seat,) = call["assignments"]
    _on_scene(dispatcher, seat["id"])
    emergency = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency").json()
    assert emergency["backup"] == [] and emergency["backup_missing"]  # no officer free
    if ending == "cleared":
        cleared = dispatcher.post(
            f"/v1/assignments/{seat['id']}/status",
            json={"status": "cleared", "disposition": "resolved_on_scene"},
        )
        assert cleared.status_code == 200, cleared.text
    else:
        cancelled = dispatcher.post(f"/v1/calls/{call['id']}/cancel", json={"reason": "dup"})
        assert cancelled.status_code == 200, cancelled.text
    officer = responder(dispatcher, kind="officer", at=north_of(900), cit_until=NEXT_YEAR)
    _top_up(agency)

    ended = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert ended["status"] == {"cleared": "closed", "cancelled": "cancelled"}[ending]
    assert [a["role"] for a in ended["assignments"]] == [seat["role"]]  # no backup seat
    assert _status(dispatcher, officer) == "available"
    assert dispatcher.get(f"/v1/emergencies/{emergency['id']}").json()["backup"] == []


def test_a_responder_freed_while_their_emergency_is_open_is_offered_no_call(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician")
    first = post_call(dispatcher)
    (seat,) = first["assignments"]
    assert dispatcher.post(f"/v1/assignments/{seat['id']}/accept").status_code == 200
    waiting = post_call(dispatcher)
    assert waiting["status"] == "pending"  # no clinician free
    raised = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency")
    assert raised.status_code == 201, raised.text

    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        cancelled = dispatcher.post(f"/v1/calls/{first['id']}/cancel", json={"reason": "moved"})
        assert cancelled.status_code == 200, cancelled.text
        changed = desk.next_event("responder.status_changed")["data"]
    assert changed["status"] == "out_of_service" and changed["reason"] == "an emergency is open"
    assert _status(dispatcher, clinician) == "out_of_service"
    assert dispatcher.get(f"/v1/calls/{waiting['id']}").json()["assignments"] == []

    # Once staff close it and the clinician says available, the waiting call is theirs.
    closed = dispatcher.post(f"/v1/emergencies/{raised.json()['id']}/close")
    assert closed.status_code == 200, closed.text
    back = dispatcher.put(f"/v1/responders/{clinician['id']}/status", json={"status": "available"})
    assert back.status_code == 200, back.text
    (offer,) = dispatcher.get(f"/v1/calls/{waiting['id']}").json()["assignments"]
    assert offer["responder_id"] == clinician["id"] and offer["state"] == "offered"


def test_closing_an_emergency_leaves_no_seat_of_its_call_waiting_for_an_officer(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _backup_count(agency, 2)
    clinician = responder(dispatcher, kind="clinician")
    officer = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)
    emergency = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency").json()
    assert emergency["call_made"] and len(emergency["backup"]) == 1  # one of two
    (taken,) = emergency["backup"]
    assert dispatcher.post(f"/v1/assignments/{taken}/accept").status_code == 200
    assert dispatcher.get(f"/v1/calls/{emergency['call_id']}").json()["status"] == "pending"

    closed = dispatcher.post(f"/v1/emergencies/{emergency['id']}/close")
    assert closed.status_code == 200, closed.text
    call = dispatcher.get(f"/v1/calls/{emergency['call_id']}").json()
    assert call["status"] == "dispatched" and call["plan"]["missing"] == []
    assert [seat["role"] for seat in call["plan"]["seats"]] == ["backup"]
    assert [(a["responder_id"], a["state"]) for a in call["assignments"]] == [
        (officer["id"], "accepted")
    ]
    # Another CIT officer comes on duty: nothing of the closed emergency is offered.
    later = responder(dispatcher, kind="officer", at=north_of(900), cit_until=NEXT_YEAR)
    assert _status(dispatcher, later) == "available"
    assert len(dispatcher.get(f"/v1/calls/{emergency['call_id']}").json()["assignments"]) == 1


def test_the_last_responder_on_scene_closes_the_call_and_a_backup_offer_still_out_is_withdrawn(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician")
    call = post_call(dispatcher)
    (seat,) = call["assignments"]
    _on_scene(dispatcher, seat["id"])
    officer = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)
    emergency = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency").json()
    (backup,) = emergency["backup"]

    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        cleared = dispatcher.post(
            f"/v1/assignments/{seat['id']}/status",
            json={"status": "cleared", "disposition": "resolved_on_scene"},
        )
        assert cleared.status_code == 200, cleared.text
        withdrawn = desk.next_event("assignment.cancelled")["data"]
    assert withdrawn["assignment"]["id"] == backup
    assert withdrawn["reason"] == "the call was closed"
    closed = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert (closed["status"], closed["disposition"]) == ("closed", "resolved_on_scene")
    assert _status(dispatcher, officer) == "available"
    _top_up(agency)
    assert _status(dispatcher, officer) == "available"


def test_an_emergency_raised_with_no_position_is_backed_up_once_one_comes(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician", at=None)
    officer = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)
    with (
        agency.client(Role.responder, responder_id=clinician["id"]) as phone,
        console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk,
    ):
        emergency = phone.post(f"/v1/responders/{clinician['id']}/emergency").json()
        assert emergency["backup"] == [] and emergency["call_id"] is None
        assert "once a position comes" in emergency["backup_missing"]
        _top_up(agency)  # still nowhere: nothing to send
        assert dispatcher.get(f"/v1/emergencies/{emergency['id']}").json()["backup"] == []

        here = north_of(100)
        placed = phone.put(
            f"/v1/responders/{clinician['id']}/position", json={"lat": here[0], "lon": here[1]}
        )
        assert placed.status_code == 200, placed.text
        _top_up(agency)
        updated = desk.next_event("emergency.updated")["data"]["emergency"]

    now = dispatcher.get(f"/v1/emergencies/{emergency['id']}").json()
    assert updated["id"] == now["id"] and updated["backup"] == now["backup"]
    assert now["call_made"] and now["call_id"] and now["backup_missing"] is None
    (offer,) = now["backup"]
    made = dispatcher.get(f"/v1/assignments/{offer}").json()
    assert (made["responder_id"], made["call_id"]) == (officer["id"], now["call_id"])


def _team_with_a_kind_named_backup(programme: Callable[..., dict[str, Any]]) -> None:
    """A programme whose own kind is named `backup`: a clinician and a `backup` worker
    go to a night call."""
    document = example()
    document["kinds"] = ["backup"]
    document["teams"]["pair"] = {"seats": [{"kind": "clinician"}, {"kind": "backup"}]}
    document["rules"][-1]["send"] = "pair"
    programme(document)


def test_a_seat_of_a_kind_named_backup_is_the_teams_and_keeps_the_call_open(
    dispatcher: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    _team_with_a_kind_named_backup(programme)
    responder(dispatcher, kind="clinician", at=north_of(200))
    responder(dispatcher, kind="backup", at=north_of(300))
    call = heart_call(dispatcher, hour=2)
    seats = {a["role"]: a for a in call["assignments"]}
    assert {role: a["purpose"] for role, a in seats.items()} == {
        "clinician": "team",
        "backup": "team",
    }
    _on_scene(dispatcher, seats["clinician"]["id"])

    # The clinician clears while the team's `backup` worker is still to come: the call
    # stays open for them, their offer out, as for any seat of the team.
    cleared = dispatcher.post(
        f"/v1/assignments/{seats['clinician']['id']}/status",
        json={"status": "cleared", "disposition": "referred"},
    )
    assert cleared.status_code == 200, cleared.text
    after = dispatcher.get(f"/v1/calls/{call['id']}").json()
    assert after["status"] != "closed" and after["disposition"] is None
    still = next(a for a in after["assignments"] if a["role"] == "backup")
    assert still["state"] == "offered"


def test_an_emergencys_backup_takes_no_seat_of_the_team_and_says_what_it_is_for(
    agency: AgencyKit, dispatcher: httpx.Client, programme: Callable[..., dict[str, Any]]
) -> None:
    _team_with_a_kind_named_backup(programme)
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician", at=north_of(200))
    call = heart_call(dispatcher, hour=2)  # nobody of kind `backup` on duty: that seat waits
    (seat,) = call["assignments"]
    _on_scene(dispatcher, seat["id"])
    officer = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)

    emergency = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency").json()
    (backup_id,) = emergency["backup"]
    offers = dispatcher.get(f"/v1/calls/{call['id']}").json()["assignments"]
    backup = next(a for a in offers if a["id"] == backup_id)
    assert (backup["responder_id"], backup["role"]) == (officer["id"], "backup_2")
    assert backup["purpose"] == "emergency_backup"
    # The team's own `backup` seat still waits for one of its kind, and gets them.
    worker = responder(dispatcher, kind="backup", at=north_of(300))
    assert _status(dispatcher, worker) == "offered"
    seats = dispatcher.get(f"/v1/calls/{call['id']}").json()["assignments"]
    assert {(a["role"], a["purpose"]) for a in seats if a["responder_id"] == worker["id"]} == {
        ("backup", "team")
    }


def test_a_seat_of_an_emergencys_own_call_filled_later_is_still_backup(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    _backup_count(agency, 1)
    clinician = responder(dispatcher, kind="clinician")  # on no call: one is made
    emergency = dispatcher.post(f"/v1/responders/{clinician['id']}/emergency").json()
    assert emergency["call_made"] and emergency["backup"] == []  # no CIT officer free

    officer = responder(dispatcher, kind="officer", at=north_of(500), cit_until=NEXT_YEAR)
    assert _status(dispatcher, officer) == "offered"  # the waiting seat, at once
    (offer,) = dispatcher.get(f"/v1/calls/{emergency['call_id']}").json()["assignments"]
    assert (offer["responder_id"], offer["role"]) == (officer["id"], "backup")
    assert offer["purpose"] == "emergency_backup"
