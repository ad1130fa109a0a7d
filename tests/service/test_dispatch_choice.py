"""Who gets offered a call: the right kind, certified, free, nearest, in the agency."""

import httpx

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.service.factories import LAST_YEAR, NEXT_YEAR, north_of, post_call, responder


def test_weapon_call_gets_nearest_cit_officer_and_nearest_clinician(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    uncertified = responder(dispatcher, kind="officer", at=north_of(100))
    lapsed = responder(dispatcher, kind="officer", at=north_of(200), cit_until=LAST_YEAR)
    certified = responder(dispatcher, kind="officer", at=north_of(1500), cit_until=NEXT_YEAR)
    far_certified = responder(dispatcher, kind="officer", at=north_of(4000), cit_until=NEXT_YEAR)
    near_clinician = responder(dispatcher, kind="clinician", at=north_of(800))
    far_clinician = responder(dispatcher, kind="clinician", at=north_of(3000))

    call = post_call(dispatcher, weapon=True)

    assert call["plan"]["team"] == "co_response"
    assert call["plan"]["rule"] == "weapon or violence"
    assert "weapon" in call["plan"]["reason"]
    offered = {a["role"]: a for a in call["assignments"]}
    assert offered["officer"]["responder_id"] == certified["id"]
    assert offered["clinician"]["responder_id"] == near_clinician["id"]
    assert all(a["state"] == "offered" for a in call["assignments"])
    assert 1400 < offered["officer"]["distance_m"] < 1600
    assert offered["officer"]["eta_s"] > 0
    assert call["status"] == "dispatched"
    passed_over = {uncertified["id"], lapsed["id"], far_certified["id"], far_clinician["id"]}
    assert passed_over.isdisjoint(a["responder_id"] for a in call["assignments"])
    board = {r["id"]: r["status"] for r in dispatcher.get("/v1/responders").json()}
    assert board[certified["id"]] == "offered"
    assert board[uncertified["id"]] == "available"


def test_call_without_safety_flags_sends_a_clinician_alone(dispatcher: httpx.Client) -> None:
    responder(dispatcher, kind="officer", at=north_of(50), cit_until=NEXT_YEAR)
    clinician = responder(dispatcher, kind="clinician", at=north_of(2000))

    call = post_call(dispatcher, category="welfare_check")

    assert call["plan"]["team"] == "clinician"
    assert call["plan"]["rule"] == "no safety flag"
    assert [a["responder_id"] for a in call["assignments"]] == [clinician["id"]]


def test_busy_off_duty_and_out_of_service_responders_are_never_chosen(
    dispatcher: httpx.Client,
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(10), status="off_duty")
    responder(dispatcher, kind="clinician", at=north_of(20), status="out_of_service")
    busy = responder(dispatcher, kind="clinician", at=north_of(30))
    first = post_call(dispatcher)
    assert first["assignments"][0]["responder_id"] == busy["id"]
    free = responder(dispatcher, kind="clinician", at=north_of(5000))
    second = post_call(dispatcher)
    assert [a["responder_id"] for a in second["assignments"]] == [free["id"]]


def test_a_responder_of_another_agency_is_never_offered(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    from service.agencies.operations import create_agency

    slug = agency.slug + "-x"
    neighbour = agency.server.uow.write_sync(create_agency, slug=slug)
    kit = AgencyKit(server=agency.server, slug=slug, id=neighbour.id)
    with kit.client(Role.dispatcher) as theirs:
        responder(theirs, kind="clinician", at=north_of(10))
    ours = responder(dispatcher, kind="clinician", at=north_of(9000))

    call = post_call(dispatcher)

    assert [a["responder_id"] for a in call["assignments"]] == [ours["id"]]


def test_call_with_nobody_free_waits_pending_and_says_what_is_missing(
    dispatcher: httpx.Client,
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(300))

    call = post_call(dispatcher, violence=True)

    assert call["status"] == "pending"
    assert call["plan"]["missing"] == ["officer"]
    assert [a["responder_id"] for a in call["assignments"]] == [clinician["id"]]
    assert dispatcher.get("/v1/calls", params={"status": "pending"}).json()[0]["id"] == call["id"]


def test_spanish_speaking_clinician_is_preferred_for_a_spanish_call(
    dispatcher: httpx.Client,
) -> None:
    responder(dispatcher, kind="clinician", at=north_of(500), languages=["en"])
    bilingual = responder(dispatcher, kind="clinician", at=north_of(1500), languages=["en", "es"])

    call = post_call(dispatcher, language="es")

    assert call["assignments"][0]["responder_id"] == bilingual["id"]
