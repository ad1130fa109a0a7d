"""A console that drops and comes back misses nothing and sees nothing twice."""

from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlmodel import col

from models.event import Event
from models.vocabulary import Role
from service.live.events import purge_old_events, purged_through
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import north_of, post_call, responder


def test_resuming_after_twenty_changes_gives_exactly_those_twenty_in_order(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", status="off_duty")
    token = agency.token(Role.dispatcher)
    with console(agency.server.ws_url, token) as desk:
        last_seen = desk.welcome["seq"]
    moves = [north_of(10 * i) for i in range(20)]
    for lat, lon in moves:
        url = f"/v1/responders/{clinician['id']}/position"
        assert dispatcher.put(url, json={"lat": lat, "lon": lon}).status_code == 200

    with console(agency.server.ws_url, token, resume_after=last_seen) as desk:
        missed = desk.drain()
        dispatcher.put(f"/v1/responders/{clinician['id']}/status", json={"status": "available"})
        live = desk.next_event("responder.status_changed")

    assert [f["event"] for f in missed] == ["responder.position_changed"] * 20
    assert [(f["data"]["lat"], f["data"]["lon"]) for f in missed] == moves
    seqs = [f["seq"] for f in missed]
    assert seqs == sorted(set(seqs))
    assert seqs[0] > last_seen
    assert live["seq"] > seqs[-1]


def test_an_offer_never_acknowledged_is_sent_again_on_reconnect(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    token = agency.token(Role.responder, responder_id=clinician["id"])
    with console(agency.server.ws_url, token) as phone:
        post_call(dispatcher)
        offer = phone.next_event("assignment.offered")  # seen, but the app died before acking

    with console(agency.server.ws_url, token) as phone:
        again = phone.next_event("assignment.offered")
        phone.send({"type": "ack", "seq": again["seq"]})
        phone.send({"type": "ping"})
        assert phone.next_of_type("pong") == {"type": "pong"}

    assert again == offer
    with console(agency.server.ws_url, token) as phone:
        assert phone.drain() == []


def test_an_answered_offer_is_not_sent_again(agency: AgencyKit, dispatcher: httpx.Client) -> None:
    clinician = responder(dispatcher, kind="clinician")
    token = agency.token(Role.responder, responder_id=clinician["id"])
    aid = post_call(dispatcher)["assignments"][0]["id"]
    dispatcher.post(f"/v1/assignments/{aid}/accept")

    with console(agency.server.ws_url, token) as phone:
        assert phone.drain() == []


def test_a_console_behind_the_log_retention_is_told_to_resync(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    token = agency.token(Role.dispatcher)
    with console(agency.server.ws_url, token) as desk:
        last_seen = desk.welcome["seq"]
    responder(dispatcher, kind="clinician")
    agency.server.uow.write_sync(purge_old_events, keep=timedelta(0))

    with console(agency.server.ws_url, token, resume_after=last_seen) as desk:
        frames = desk.drain()

    assert [f["type"] for f in frames] == ["resync"]
    assert "HTTP" in frames[0]["detail"]


def test_the_purge_goes_a_batch_at_a_time_and_resuming_past_it_still_works(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """The log is shared with every other test's agency: the batch is sized to end at
    this agency's third event, whatever else is older."""
    token = agency.token(Role.dispatcher)
    clinician = responder(dispatcher, kind="clinician", status="off_duty")
    for i in range(6):
        url = f"/v1/responders/{clinician['id']}/position"
        assert (
            dispatcher.put(url, json={"lat": north_of(10 * i)[0], "lon": -75.4}).status_code == 200
        )
    uow = agency.server.uow

    def ours(tx: Tx) -> list[int]:
        query = select(col(Event.seq)).where(col(Event.agency_id) == agency.id)
        return list(tx.session.execute(query.order_by(col(Event.seq))).scalars())

    def logged_through(seq: int) -> Callable[[Tx], int]:
        query = select(func.count(col(Event.seq))).where(col(Event.seq) <= seq)
        return lambda tx: int(tx.session.execute(query).scalar_one())

    seqs = uow.read_sync(ours)
    batch = uow.read_sync(logged_through(seqs[2]))

    assert uow.write_sync(purge_old_events, keep=timedelta(0), limit=batch) == batch
    assert uow.read_sync(purged_through) == seqs[2]
    assert uow.read_sync(ours) == seqs[3:]
    # One past the watermark resumes with everything after it; before it, resync.
    with console(agency.server.ws_url, token, resume_after=seqs[2]) as desk:
        assert [f["seq"] for f in desk.drain()] == seqs[3:]
    with console(agency.server.ws_url, token, resume_after=seqs[1]) as desk:
        assert [f["type"] for f in desk.drain()] == ["resync"]

    while uow.write_sync(purge_old_events, keep=timedelta(0), limit=3) == 3:
        pass
    assert uow.read_sync(ours) == []
