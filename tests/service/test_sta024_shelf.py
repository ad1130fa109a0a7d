"""The EIDO shelf (service/sta024/shelf.py) with its real worker process, on the test
server's database: what a subscription starts with is built there, once for every
subscription that asks alike."""

import asyncio
import json
import uuid
from typing import Any

import httpx

from models.agency import Principal
from models.vocabulary import Role
from service.settings import Settings
from service.sta024.builder import Builder
from service.sta024.feed import Feed
from service.sta024.operations import Scope, Start
from service.sta024.shelf import EidoShelf
from service.sta024.subscription import Subscription, Terms
from service.trust.auth import check_token
from tests.conftest import AgencyKit
from tests.service.factories import north_of, post_call, responder

WAIT_S = 60.0  # the worker starts at a low priority: seconds on a busy machine


def test_a_call_asked_for_at_two_seqs_at_once_is_answered_for_both(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """A subscription that starts while its feed has read further asks for a call the
    start named again at its newer seq, in one chunk: both are answered with the call as
    it is now. (The second ask had replaced the first, whose answer never came: three
    of ten CADs in a load run waited for their third notification for ever.)"""
    responder(dispatcher, kind="clinician", at=north_of(300))
    call = post_call(dispatcher)
    call_id = uuid.UUID(call["id"])
    other = uuid.UUID(post_call(dispatcher)["id"])
    token = agency.token(Role.cad)
    cad, refused = agency.server.uow.read_sync(check_token, token)
    assert cad is not None and refused is None
    builder = Builder(Settings(database_url=agency.server.env["CORESPOND_DATABASE_URL"]))

    async def ask() -> tuple[list[str], list[str]]:
        shelf = EidoShelf(builder)
        chunk = [(call_id, 3), (other, 4), (call_id, 9)]
        first, again = await asyncio.wait_for(
            asyncio.gather(shelf.eidos(cad, chunk), shelf.eidos(cad, chunk)), WAIT_S
        )
        return [b.text for b in first], [b.text for b in again]

    try:
        first, again = asyncio.run(ask())
    finally:
        builder.close()

    assert len(first) == 3 and first[0] == first[2]  # the call, as it is now, both times
    assert call["id"] in first[0] and call["id"] not in first[1]
    assert again == first  # the second subscription waited for the first's builds
    over_http = httpx.get(  # the same EIDO as the CAD reads over HTTP
        f"{agency.server.url}/v1/calls/{call_id}/eido",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert json.loads(first[0]) == over_http.json()


class _Link:
    """A subscription's socket, as it uses it: what it sends is kept."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.address = "127.0.0.1"
        self.frames: list[dict[str, Any]] = []
        self.sent = asyncio.Event()

    def send(self, frame: dict[str, Any] | str) -> None:
        self.frames.append(json.loads(frame) if isinstance(frame, str) else frame)
        self.sent.set()

    def ended(self, subscription: Subscription, why: str) -> None:
        pass

    def too_slow(self) -> None:
        pass


def test_an_incident_the_start_and_the_catch_up_both_name_is_sent_once(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """A subscription whose feed had read further than its start catches up: an
    incident changed meanwhile is in its first notification once, in the start's
    place, as it is now, beside the start's others and the catch-up's new ones."""
    responder(dispatcher, kind="clinician", at=north_of(300))
    changed, kept, new = (uuid.UUID(post_call(dispatcher)["id"]) for _ in range(3))
    cad, refused = agency.server.uow.read_sync(check_token, agency.token(Role.cad))
    assert cad is not None and refused is None
    builder = Builder(Settings(database_url=agency.server.env["CORESPOND_DATABASE_URL"]))
    link = _Link(cad)

    async def first_notification() -> dict[str, Any]:
        subscription = Subscription(
            scope=Scope(kind="new"),
            terms=Terms(min_rate=None, max_rate=None, expires_s=60),
            start=Start(head=4, first=[(changed, 3), (kept, 4)], resumed=False),
            floor=0,
            link=link,
            feed=Feed(builder, cad, on_idle=lambda feed: None),
            uow=agency.server.uow,
            shelf=EidoShelf(builder),
            ack_timeout_s=60,
        )
        subscription.catch_up([(changed, 9), (new, 10)], through=10)
        running = asyncio.create_task(subscription.run())
        try:
            await asyncio.wait_for(link.sent.wait(), WAIT_S)
        finally:
            running.cancel()
        return link.frames[0]

    try:
        frame = asyncio.run(first_notification())
    finally:
        builder.close()

    sent = [json.dumps(eido) for eido in frame["event"]["notification"]]
    assert [[str(c) in text for c in (changed, kept, new)] for text in sent] == [
        [True, False, False],
        [False, True, False],
        [False, False, True],
    ], "each incident once, the start's first, in their order"
