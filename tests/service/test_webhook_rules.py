"""Who may manage webhooks and where they may reach: admins only, private and plain
addresses refused, event types checked; and the parts beneath deliveries on their own:
the address check, pinning, reading an answer, the signature, the delivery log, the
shared tail and the hub's feed to it."""

import asyncio
import hashlib
import hmac
import ipaddress
import os
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from models.columns import utcnow
from models.event import EventMessage
from models.vocabulary import Role
from models.webhook import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from service.agencies.operations import create_agency
from service.live.bus import Wake
from service.live.bus.memory import MemoryBus
from service.live.events import events_after, events_between, head_seq
from service.live.hub import Hub, event_text
from service.metrics import Metrics
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.webhooks import channel
from service.webhooks.addresses import Refused, refusal_of, resolve
from service.webhooks.connection import BadAnswer, Head, read_head
from service.webhooks.delivery_log import KEEP, Try
from service.webhooks.feed import WAKE_GAP_S, Entry, Feed, Feeder
from service.webhooks.outbox import Round, record_round
from service.webhooks.signing import signature
from service.webhooks.tail import AgencyTail, Doorbell
from service.webhooks.view import dispatcher_view
from tests.conftest import (
    AgencyKit,
    database_url,
)
from tests.service.webhooks_kit import ROOT, register

# ---- who may, and where to --------------------------------------------------------------


def test_only_admins_manage_webhooks(
    agency: AgencyKit, make_agency: Callable[[], AgencyKit]
) -> None:
    admin = agency.client(Role.admin)
    created = register(admin, "https://93.184.215.14/hook", ["webhook.disabled"])
    path = f"/v1/webhooks/{created['id']}"
    for role in (Role.supervisor, Role.dispatcher, Role.cad):
        other = agency.client(role)
        refused = [
            other.post("/v1/webhooks", json={"url": "https://93.184.215.14/x", "events": ["*"]}),
            other.get("/v1/webhooks"),
            other.get(f"{path}/deliveries"),
            other.post(f"{path}/redeliver", json={"from_seq": 1}),
            other.delete(path),
        ]
        assert [r.status_code for r in refused] == [403] * 5, role
        assert "takes admin" in refused[0].json()["detail"]
    stranger = make_agency().client(Role.admin)
    assert stranger.delete(path).status_code == 404
    assert stranger.get("/v1/webhooks").json() == []
    assert "secret" not in admin.get("/v1/webhooks").json()[0]
    assert created["secret"].startswith("whsec_")
    again = admin.post("/v1/webhooks", json={"url": created["url"], "events": ["*"]})
    assert again.status_code == 409
    assert created["id"] in again.json()["detail"]
    assert admin.delete(path).status_code == 204
    assert admin.delete(path).status_code == 404


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://93.184.215.14/hook", "must be https://"),
        ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("https://localhost:8443/hook", "localhost resolves to"),
        ("https://10.1.2.3/hook", "a private address"),
        ("https://192.168.0.10/hook", "a private address"),
        ("https://169.254.169.254/latest/meta-data", "a link-local address"),
        ("https://[::1]/hook", "a loopback address"),
        ("https://[fe80::1]/hook", "a link-local address"),
        ("https://[::ffff:10.0.0.1]/hook", "a private address"),
        ("https://100.64.0.1/hook", "carrier NAT"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://user:pw@93.184.215.14/hook", "no user or password"),
        ("ftp://93.184.215.14/hook", "https:// URL"),
        ("https:///hook", "with a host"),
        ("https://nowhere.invalid/hook", "does not resolve"),
    ],
)
def test_a_private_or_plain_address_is_refused_and_nothing_is_written(
    agency: AgencyKit, url: str, says: str
) -> None:
    """The shared server runs without CORESPOND_WEBHOOK_ALLOW_PRIVATE, as deployed."""
    admin = agency.client(Role.admin)
    answer = admin.post("/v1/webhooks", json={"url": url, "events": ["*"]})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "ValidationError"
    assert "url" in answer.json()["detail"]
    assert says in answer.json()["detail"]
    assert admin.get("/v1/webhooks").json() == []


@pytest.mark.parametrize(
    ("events", "says"),
    [
        (["call.create"], "unknown event type call.create; known: assignment.accepted"),
        (["*", "call.created"], "stands alone"),
        (["call.created", "call.created"], "listed twice"),
        ([], "at least 1 item"),
    ],
)
def test_unknown_event_types_are_refused(agency: AgencyKit, events: list[str], says: str) -> None:
    admin = agency.client(Role.admin)
    answer = admin.post("/v1/webhooks", json={"url": "https://93.184.215.14/x", "events": events})
    assert answer.status_code == 422
    assert says in answer.json()["detail"]
    assert admin.get("/v1/webhooks").json() == []


def test_every_event_type_may_be_asked_for() -> None:
    """Those docs/api.md lists and those the code records: a new one must be added to
    `models.webhook.EVENT_TYPES` for an endpoint to ask for it by name."""
    table = (ROOT / "docs" / "api.md").read_text().split("## Event types", 1)[1]
    rows = re.findall(r"^\| (.*?) \|", table, re.M)[2:]
    documented = {n for row in rows for n in re.findall(r"`([a-z_]+\.[a-z_]+)`", row)}
    recorded = {
        name
        for source in (ROOT / "service").rglob("*.py")
        for name in re.findall(r'record\(\s*(?:tx,\s*)?"([a-z_]+\.[a-z_]+)"', source.read_text())
    }
    assert documented and recorded
    assert documented | recorded <= EVENT_TYPES, (documented | recorded) - EVENT_TYPES


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
        ("127.0.0.2", "a loopback address"),
        ("172.16.5.4", "a private address"),
        ("fc00::1", "a private address"),
        ("224.0.0.1", "a multicast address"),
        ("192.0.2.1", "a private address"),
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("240.0.0.1", "a reserved address"),
    ],
)
def test_what_a_webhook_may_reach(address: str, kind: str | None) -> None:
    assert refusal_of(ipaddress.ip_address(address)) == kind


def test_the_name_is_resolved_once_and_the_delivery_pinned_to_its_address() -> None:
    where = asyncio.run(
        resolve("https://localhost:8443/hooks?a=1", allow_private=True, timeout_s=5)
    )
    assert where.address.is_loopback
    assert (where.port, where.target, where.tls) == (8443, "/hooks?a=1", True)
    assert (where.host_header, where.server_name) == ("localhost:8443", "localhost")
    with pytest.raises(Refused, match="must be https://"):
        asyncio.run(resolve("http://localhost/", allow_private=False, timeout_s=5))


@pytest.mark.parametrize(
    ("head", "read"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", Head(204, 0, keep=True)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", Head(200, 12, keep=True)),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
            Head(200, 2, keep=False),
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Head(200, 0, keep=False)),
        (b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n", Head(500, None, keep=False)),
        (b"HTTP/1.1 200 OK\r\n\r\n", Head(200, None, keep=False)),  # a body until it closes
        (b"HTTP/1.1 100 Continue\r\n\r\n", Head(100, 0, keep=True)),
    ],
)
def test_what_is_read_of_an_answer(head: bytes, read: Head) -> None:
    assert read_head(head) == read


@pytest.mark.parametrize(
    "head",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    ],
)
def test_an_answer_that_is_not_http_is_a_failure(head: bytes) -> None:
    with pytest.raises(BadAnswer):
        read_head(head)


def test_the_signature_is_an_hmac_of_the_time_and_the_body() -> None:
    body = b'{"type":"event","seq":7}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_k", timestamp=1700000000, body=body) == f"t=1700000000,v1={expected}"


def test_a_rounds_deliveries_are_one_entry_and_an_endpoint_keeps_its_newest(
    tmp_path: Path,
) -> None:
    """A round's deliveries are logged as one run (its first seq through its last, how
    many, their type or "*" for several), not an entry an event; the newest `KEEP`
    entries of an endpoint are kept."""
    engine = make_engine(Settings(database_url=database_url(tmp_path)))
    upgrade(engine)
    uow = UnitOfWork(engine, bus=None, serialize_writes=False)
    agency = uow.write_sync(create_agency, slug="logs")
    claim = uuid.uuid4()

    def endpoint(tx: Tx) -> uuid.UUID:
        row = WebhookEndpoint(
            agency_id=agency.id, url="https://93.184.215.14/", events=["*"], secret="s", cursor=0
        )
        row.lease_owner, row.lease_until = claim, tx.now + timedelta(minutes=1)
        tx.session.add(row)
        tx.session.flush()
        return row.id

    endpoint_id = uow.write_sync(endpoint)
    rounds = KEEP + 10
    for n in range(rounds):  # two events a round: of one type in odd rounds, of two in even
        second = "call.created" if n % 2 else "assignment.offered"
        sent = [
            Try(seq=2 * n + 1, event="call.created", at=utcnow(), http_status=200),
            Try(seq=2 * n + 2, event=second, at=utcnow(), http_status=204),
        ]
        done = Round(endpoint_id, claim, started_at=2 * n, through=2 * n + 2, delivered=sent)
        uow.write_sync(record_round, done=done, give_up=timedelta(hours=24), lease_s=60)

    def kept(tx: Tx) -> list[tuple[Any, ...]]:
        query = select(
            col(WebhookDelivery.seq),
            col(WebhookDelivery.through_seq),
            col(WebhookDelivery.events),
            col(WebhookDelivery.event),
            col(WebhookDelivery.http_status),
        ).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
        return [tuple(row) for row in tx.session.execute(query.order_by(col(WebhookDelivery.seq)))]

    entries = uow.read_sync(kept)
    assert len(entries) == KEEP
    assert entries[:2] == [(21, 22, 2, "*", 204), (23, 24, 2, "call.created", 204)]
    assert entries[-1] == (2 * rounds - 1, 2 * rounds, 2, "call.created", 204)
    engine.dispose()


def test_endpoints_of_an_agency_share_its_events_and_one_far_behind_misses_none(
    tmp_path: Path,
) -> None:
    """The agency's events are read once for its endpoints and only the newest are held:
    one behind what is held reads the log itself, and gets every event, in order."""
    engine = make_engine(Settings(database_url=database_url(tmp_path)))
    upgrade(engine)
    uow = UnitOfWork(engine, bus=None, serialize_writes=False)
    ours, theirs = (uow.write_sync(create_agency, slug=s).id for s in ("ours", "theirs"))

    def record(tx: Tx) -> None:
        for n in range(300):  # every third event is another agency's
            tx.record("call.updated", agency_id=theirs if n % 3 == 2 else ours, data={"n": n})

    uow.write_sync(record)
    expected = [s for s in range(1, 301) if s % 3 != 0]

    async def read_all(tail: AgencyTail, step: int) -> list[int]:
        seqs: list[int] = []
        while entries := await tail.after(seqs[-1] if seqs else 0, step):
            seqs += [e.seq for e in entries]
        return seqs

    async def readers() -> list[list[int]]:
        # Each read of the log brings 20 and the tail keeps 50: one reading 7 at a time
        # falls behind what is held, as one reading 100 at a time moves it on.
        tail = AgencyTail(uow, Doorbell(), ours, 0, keep=50, read=20)
        return list(await asyncio.gather(read_all(tail, 7), read_all(tail, 100)))

    assert asyncio.run(readers()) == [expected, expected]
    engine.dispose()


def committed(uow: UnitOfWork, agencies: list[uuid.UUID]) -> list[EventMessage]:
    """An event for each of `agencies`, committed in one transaction, as the hub gets them."""

    def record(tx: Tx) -> int:
        head = head_seq(tx)
        for n, agency in enumerate(agencies):
            tx.record("call.updated", agency_id=agency, data={"n": n})
        return head

    after = uow.write_sync(record)
    return uow.read_sync(events_between, after=after, through=after + len(agencies))


class CountedReads:
    """A unit of work's reads, counted (the tail's reads of the log)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow, self.reads = uow, 0

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        return self.uow.read_sync(fn, *args, **kwargs)


def test_the_hubs_events_are_fed_to_the_deliveries_and_the_log_read_only_to_catch_up(
    tmp_path: Path,
) -> None:
    """The serving process's hub feeds each agency with an endpoint its events down a
    real pipe, encoded as a dispatcher's console is sent them; the agency's tail reads
    the log once to catch up to the feed, then takes every event from it, in order,
    with the console's bytes. Where the hub went on without delivering some events
    (past the log's retention, or before its first read of the head), the feed begins
    again and the tail reads the difference from the log: none is missed."""
    engine = make_engine(Settings(database_url=database_url(tmp_path)))
    upgrade(engine)
    uow = UnitOfWork(engine, bus=None, serialize_writes=False)
    ours, theirs = (uow.write_sync(create_agency, slug=s).id for s in ("ours", "theirs"))

    def commit(count: int) -> list[EventMessage]:  # every third event is another agency's
        return committed(uow, [theirs if n % 3 == 2 else ours for n in range(count)])

    async def flow() -> None:
        loop = asyncio.get_running_loop()
        hub = Hub(MemoryBus(), Metrics())
        read_end, write_end = os.pipe()
        pipe, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, os.fdopen(write_end, "wb"))
        feed, doorbell = Feed(), Doorbell()

        def on_frame(kind: bytes, payload: bytes) -> None:
            assert kind == channel.FEED
            feed.take(channel.fed_of(payload))
            doorbell.ring(None)

        await loop.connect_read_pipe(
            lambda: channel.FrameReader(on_frame, lambda: None), os.fdopen(read_end, "rb")
        )
        before = commit(30)  # before the feed began: only in the log
        hub.delivered_through = before[-1].seq
        feeder = Feeder(pipe, hub.delivered_through)
        reads = CountedReads(uow)
        tail = AgencyTail(reads, doorbell, ours, 0, feed=feed)
        taken: list[Entry] = []

        async def take_all() -> None:
            while entries := await tail.after(taken[-1].seq if taken else 0, 100):
                taken.extend(entries)

        with hub.tap(feeder.take):
            feeder.feed([ours])
            await asyncio.sleep(0.05)
            await take_all()
            assert reads.reads == 1  # caught up from the log, to where the feed began
            for _ in range(3):
                bell = doorbell.armed(ours)
                hub.receive(Wake.of(commit(20)))
                await asyncio.wait_for(bell.wait(), 5)
                await take_all()
            assert reads.reads == 1  # the feed's: the log was not read again
            skipped = commit(9)  # committed, but the hub went on without delivering them
            hub.delivered_through = skipped[-1].seq
            bell = doorbell.armed(ours)
            hub.receive(Wake.of(commit(20)))
            await asyncio.wait_for(bell.wait(), 5)
            await take_all()
        feeder.close()
        pipe.close()
        view = dispatcher_view(ours)
        logged = uow.read_sync(events_after, principal=view, after=0, limit=1000)
        assert [e.seq for e in taken] == [e.seq for e in logged]
        assert len(taken) == 20 + 3 * 14 + 6 + 14  # two in three of each batch are ours
        assert [e.body for e in taken] == [event_text(e, view).encode() for e in logged]
        assert reads.reads == 2  # the feed began again after the gap: the log read once

    asyncio.run(flow())
    engine.dispose()


def test_a_delivery_process_far_behind_is_fed_afresh_and_reads_the_difference(
    tmp_path: Path,
) -> None:
    """While the delivery process does not read its pipe (no core for it), the feed holds
    its events; past its limit it drops them and begins again from the hub's place, so
    the serving process's memory stays bounded, and the tail reads what was dropped from
    the log: every event still arrives, in order."""
    engine = make_engine(Settings(database_url=database_url(tmp_path)))
    upgrade(engine)
    uow = UnitOfWork(engine, bus=None, serialize_writes=False)
    ours = uow.write_sync(create_agency, slug="ours").id

    def commit(count: int) -> list[EventMessage]:
        return committed(uow, [ours] * count)

    async def flow() -> tuple[list[int], Feed]:
        loop = asyncio.get_running_loop()
        hub = Hub(MemoryBus(), Metrics())
        read_end, write_end = os.pipe()
        pipe, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, os.fdopen(write_end, "wb"))
        feeder = Feeder(pipe, 0, max_events=50)
        feeder.feed([ours])
        pipe.write(channel.frame(channel.ENDPOINTS) * 40_000)  # more than the pipe holds
        with hub.tap(feeder.take):
            for _ in range(12):  # 120 events while the process reads nothing
                hub.receive(Wake.of(commit(10)))
                await asyncio.sleep(2 * WAKE_GAP_S)  # a frame's turn passes
            feed, doorbell = Feed(), Doorbell()

            def on_frame(kind: bytes, payload: bytes) -> None:
                if kind == channel.FEED:
                    feed.take(channel.fed_of(payload))
                    doorbell.ring(None)

            await loop.connect_read_pipe(  # the process reads again
                lambda: channel.FrameReader(on_frame, lambda: None), os.fdopen(read_end, "rb")
            )
            bell = doorbell.armed(ours)
            hub.receive(Wake.of(commit(10)))
            await asyncio.wait_for(bell.wait(), 5)
            tail = AgencyTail(uow, doorbell, ours, 0, feed=feed)
            seqs: list[int] = []
            while entries := await tail.after(seqs[-1] if seqs else 0, 100):
                seqs += [e.seq for e in entries]
        feeder.close()
        pipe.close()
        return seqs, feed

    seqs, feed = asyncio.run(flow())
    assert seqs == list(range(1, 131))
    assert not feed.covers(ours, 50)  # the first events were dropped from the feed
    engine.dispose()


def test_only_commits_of_agencies_with_an_idle_endpoint_wake_the_deliverer() -> None:
    """The deliverer looks for due endpoints when an agency with an endpoint that has no
    run commits (or when the bus cannot say whose commit it was), not at every commit;
    an endpoint's run still hears its own agency's commits."""
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    doorbell = Doorbell()
    doorbell.watched = frozenset({ours})

    def rings(agencies: list[uuid.UUID] | None, agency: uuid.UUID | None = None) -> bool:
        bell = doorbell.armed(agency)
        doorbell.ring(agencies)
        return bell.is_set()

    assert not rings([theirs])
    assert rings([theirs, ours])
    assert rings(None)
    assert rings([theirs], theirs)
    doorbell.watched = frozenset()  # every endpoint has its run
    assert not rings([ours])
    assert rings([ours], ours)
