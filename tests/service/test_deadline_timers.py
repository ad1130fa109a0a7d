"""The deadline timers (`live.timers.pass_deadlines_forever`): every feature's work
keeps a loop of its own, so a slow one (a preparation asking a routing server) never
holds up another's ticks (the offers' expiry), and a failing one is retried on the
next tick while the others go on.

The timers are the same on both backends; these run on a SQLite file, with the
server's unit of work for SQLite (writes batched on the loop)."""

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.live.bus.memory import MemoryBus
from service.live.timers import Deadlines, pass_deadlines_forever
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork

TICK_S = 0.05
PATIENCE_S = 20.0  # how long a test waits for what should come within a few ticks


@pytest.fixture
def uow(tmp_path: Path) -> Iterator[UnitOfWork]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'corespond.db'}")
    engine = make_engine(settings)
    upgrade(engine)
    yield UnitOfWork(
        engine,
        MemoryBus(),
        serialize_writes=True,
        loop_engine=make_engine(settings, lock_wait_s=0),
    )
    engine.dispose()


async def _until(seen: Callable[[], bool]) -> None:
    for _ in range(int(PATIENCE_S / TICK_S)):
        if seen():
            return
        await asyncio.sleep(TICK_S)


def _run(uow: UnitOfWork, works: list[Deadlines], seen: Callable[[], bool]) -> None:
    async def main() -> None:
        timers = asyncio.create_task(pass_deadlines_forever(uow, works, interval_s=TICK_S))
        try:
            await _until(seen)
        finally:
            timers.cancel()
            await asyncio.gather(timers, return_exceptions=True)
            await uow.aclose()

    asyncio.run(main())


def test_a_slow_preparation_holds_up_no_other_works_ticks(uow: UnitOfWork) -> None:
    """The road preparation's routing server answers only once the offers have expired
    three times over: if the offers waited for it, it would never answer."""
    expired = 0
    three_ticks = threading.Event()
    road_writes: list[Any] = []

    def ask_routing_server(tx: Tx, *, limit: int) -> str:
        return "answered" if three_ticks.wait(timeout=PATIENCE_S / 2) else "timed out"

    def route(tx: Tx, *, limit: int, prepared: Any = None) -> int:
        road_writes.append(prepared)
        return 0

    def expire_offers(tx: Tx, *, limit: int, prepared: Any = None) -> int:
        nonlocal expired
        expired += 1
        if expired >= 3:
            three_ticks.set()
        return 0

    works = [Deadlines("roads", route, ask_routing_server), Deadlines("offers", expire_offers)]
    try:
        _run(uow, works, lambda: bool(road_writes))
    finally:
        three_ticks.set()  # frees the worker thread whatever happened

    assert road_writes, "the road work never wrote"
    assert road_writes[0] == "answered", (
        f"the offers expired {expired} times while the routing server was slow"
    )


def test_a_failing_work_is_retried_on_the_next_tick_and_the_others_go_on(
    uow: UnitOfWork,
) -> None:
    tries = 0
    expired = 0

    def broken(tx: Tx, *, limit: int, prepared: Any = None) -> int:
        nonlocal tries
        tries += 1
        raise RuntimeError("a feature's bug")

    def expire_offers(tx: Tx, *, limit: int, prepared: Any = None) -> int:
        nonlocal expired
        expired += 1
        return 0

    works = [Deadlines("broken", broken), Deadlines("offers", expire_offers)]
    _run(uow, works, lambda: tries >= 3 and expired >= 3)

    assert tries >= 3, f"the failing work was tried {tries} times: it died"
    assert expired >= 3, f"the offers expired {expired} times beside a failing work"
