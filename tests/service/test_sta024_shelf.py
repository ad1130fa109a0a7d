"""The EIDO shelf (service/sta024/shelf.py) with its real worker process, on the test
server's database: what a subscription starts with is built there, once for every
subscription that asks alike."""

import asyncio
import json
import uuid

import httpx

from models.vocabulary import Role
from service.settings import Settings
from service.sta024.builder import Builder
from service.sta024.shelf import EidoShelf
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
