"""The hub's promise to fast consoles: a console that stops reading is closed when
its bounded queue fills, and nobody else waits for it.

In-process, because a socket that stops reading takes megabytes of kernel
buffers to show it; the stand-in sockets below only record what is sent.
"""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from models.agency import Agency, Principal
from models.event import Event, EventMessage
from models.vocabulary import Role
from service.agencies.operations import create_agency
from service.live.bus import Wake
from service.live.bus.base import decode, encode
from service.live.bus.memory import MemoryBus
from service.live.events import purged_through
from service.live.hub import CLOSE_TOO_SLOW, Console, Hub
from service.live.timers import keep_house_forever
from service.metrics import Metrics
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork

AGENCY = uuid.uuid4()


class RecordingSocket:
    def __init__(self, *, stuck: bool = False) -> None:
        self.stuck = stuck
        self.sent: list[dict[str, Any]] = []
        self.closed_with: int | None = None

    async def send_json(self, frame: dict[str, Any]) -> None:
        if self.stuck:
            await asyncio.Event().wait()  # a peer that never reads
        self.sent.append(frame)

    async def send_text(self, text: str) -> None:
        await self.send_json(json.loads(text))

    async def close(self, code: int, reason: str = "") -> None:
        self.closed_with = code


def _principal(agency_id: uuid.UUID = AGENCY) -> Principal:
    return Principal(
        token_id=uuid.uuid4(), agency_id=agency_id, agency_slug="a", role=Role.dispatcher
    )


def _event(seq: int) -> EventMessage:
    return EventMessage(
        seq=seq, agency_id=AGENCY, at=datetime.now(UTC), type="call.updated", data={"n": seq}
    )


def test_a_console_that_stops_reading_is_closed_and_the_others_get_everything() -> None:
    async def shift() -> tuple[RecordingSocket, RecordingSocket, Metrics]:
        metrics = Metrics()
        hub = Hub(MemoryBus(), metrics)
        stuck, fast = RecordingSocket(stuck=True), RecordingSocket()
        slow_console = Console(stuck, _principal(), queue_size=5)  # type: ignore[arg-type]
        fast_console = Console(fast, _principal(), queue_size=5)  # type: ignore[arg-type]
        with hub.attached(slow_console), hub.attached(fast_console):
            senders = [slow_console.start(), fast_console.start()]
            for seq in range(1, 21):
                hub.deliver(_event(seq))
                await asyncio.sleep(0)  # the fast sender keeps up
            for _ in range(100):
                if stuck.closed_with is not None:
                    break
                await asyncio.sleep(0.01)
            for sender in senders:
                sender.cancel()
        return stuck, fast, metrics

    stuck, fast, metrics = asyncio.run(shift())

    assert stuck.closed_with == CLOSE_TOO_SLOW
    assert [f["seq"] for f in fast.sent] == list(range(1, 21))
    assert fast.closed_with is None
    assert metrics.consoles_dropped._value.get() == 1


def _log_with_events(tmp_path: Path, count: int) -> tuple[UnitOfWork, list[EventMessage]]:
    """A real SQLite log holding `count` committed events, and those events."""
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'log.db'}"))
    upgrade(engine)
    uow = UnitOfWork(engine, bus=None, serialize_writes=True)
    agency = uow.write_sync(create_agency, slug="hub")

    def record(tx: Tx) -> list[EventMessage]:
        for n in range(count):
            tx.record("call.updated", agency_id=agency.id, data={"n": n})
        return tx.seal()

    return uow, uow.write_sync(record)


def wakes_agency(uow: UnitOfWork) -> uuid.UUID:
    """The one agency in the log."""
    return uow.read_sync(lambda tx: tx.session.execute(select(col(Agency.id))).scalar_one())


def _hub_run(
    uow: UnitOfWork, wakes: list[Wake], *, settle_s: float = 0.3
) -> tuple[list[int], Metrics]:
    """Feed `wakes` to a hub over `uow`'s log; the seqs one console received."""

    async def shift() -> tuple[list[int], Metrics]:
        metrics = Metrics()
        bus = MemoryBus()
        hub = Hub(bus, metrics, uow, gap_wait_s=0.05, log_check_s=0.1)
        hub.delivered_through = 0
        socket = RecordingSocket()
        viewer = Console(socket, _principal(wakes_agency(uow)), queue_size=100)  # type: ignore[arg-type]
        with hub.attached(viewer):
            sender = viewer.start()
            for wake in wakes:
                hub.receive(wake)
                await asyncio.sleep(0)
            await asyncio.sleep(settle_s)
            sender.cancel()
        return [f["seq"] for f in socket.sent], metrics

    return asyncio.run(shift())


def test_batches_from_other_replicas_out_of_order_reach_a_console_in_order_once(
    tmp_path: Path,
) -> None:
    uow, events = _log_with_events(tmp_path, 6)
    first, second, third = events[0:2], events[2:4], events[4:6]
    wakes = [
        Wake(events=tuple(third), through=third[-1].seq, local=False),
        Wake(events=tuple(first), through=first[-1].seq, local=False),
        Wake(events=tuple(first), through=first[-1].seq, local=False),  # twice
        Wake(events=tuple(second), through=second[-1].seq, local=False),
    ]
    seqs, metrics = _hub_run(uow, wakes)
    assert seqs == [e.seq for e in events]
    assert metrics.hub_log_reads._value.get() == 0  # the gap closed before the wait ran out


def test_a_batch_lost_on_the_bus_is_read_from_the_log(tmp_path: Path) -> None:
    uow, events = _log_with_events(tmp_path, 6)
    lost_then_later = [
        Wake(events=tuple(events[:2]), through=events[1].seq, local=False),
        # events[2:4] never arrive
        Wake(events=tuple(events[4:]), through=events[-1].seq, local=False),
    ]
    seqs, metrics = _hub_run(uow, lost_then_later)
    assert seqs == [e.seq for e in events]
    assert metrics.hub_log_reads._value.get() >= 1


def test_after_a_bus_reconnect_the_hub_catches_up_from_the_log(tmp_path: Path) -> None:
    uow, events = _log_with_events(tmp_path, 4)
    seqs, _ = _hub_run(uow, [Wake(events=(), through=None, local=False)])
    assert seqs == [e.seq for e in events]


def test_a_batch_too_big_for_its_transport_goes_as_its_last_seq_and_is_read_from_the_log(
    tmp_path: Path,
) -> None:
    uow, events = _log_with_events(tmp_path, 3)
    small = encode("other-replica", events, limit=None)
    capped = encode("other-replica", events, limit=200)  # NOTIFY's cap, in miniature
    assert len(capped.encode()) <= 200 < len(small.encode())
    origin, wake = decode(capped)
    assert (origin, wake.events, wake.local) == ("other-replica", (), False)
    assert wake.through == events[-1].seq
    seqs, metrics = _hub_run(uow, [wake])
    assert seqs == [e.seq for e in events]
    assert metrics.hub_log_reads._value.get() >= 1


def test_housekeeping_purges_every_old_event_in_one_round_a_batch_at_a_time(
    tmp_path: Path,
) -> None:
    uow, events = _log_with_events(tmp_path, 12)

    async def one_round() -> None:
        house = asyncio.create_task(
            keep_house_forever(
                uow,
                event_retention=timedelta(0),
                audit_retention=timedelta(days=365),
                interval_s=600,  # one round only
                batch=5,
            )
        )
        for _ in range(100):
            await asyncio.sleep(0.05)
            if uow.read_sync(purged_through) == events[-1].seq:
                break
        house.cancel()

    asyncio.run(one_round())

    # 12 events in batches of 5: three transactions in the round, not one batch.
    assert uow.read_sync(purged_through) == events[-1].seq
    assert (
        uow.read_sync(lambda tx: tx.session.execute(select(func.count(col(Event.seq)))).scalar())
        == 0
    )
